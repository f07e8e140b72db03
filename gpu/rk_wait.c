/* gst-ringkernel: futex waits and clocks (see rk_wait.h). */
#include "rk_wait.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rk_barrier.h"

int
rk_futex_wait (uint32_t *word, uint32_t expected, int64_t timeout_ns)
{
  struct timespec ts, *tsp = NULL;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    tsp = &ts;
  }
  long r = syscall (SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, tsp, NULL, 0);
  if (r < 0 && errno == ETIMEDOUT)
    return -ETIMEDOUT;
  return 0; /* woken, value changed (EAGAIN), or interrupted by a signal: the caller re-checks */
}

void
rk_futex_wake_all (uint32_t *word)
{
  syscall (SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void
rk_futex_bump (uint32_t *word)
{
  atomic_fetch_add_explicit (RK_ATOMIC32 (word), 1, memory_order_release);
  rk_futex_wake_all (word);
}

uint64_t
rk_now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}
