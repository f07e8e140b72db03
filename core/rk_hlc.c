/* gst-ringkernel: hybrid logical clock (see rk_hlc.h). */
#include "rk_hlc.h"

#include <time.h>

#include "rk_barrier.h"

void
rk_hlc_init (rk_hlc *c, uint32_t node)
{
  rk_store_relaxed64 (&c->word, 0);
  c->node = node;
}

uint64_t
rk_hlc_wall_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

uint64_t
rk_hlc_tick_at (uint64_t *word, uint64_t pt_ms)
{
  uint64_t old = rk_load_relaxed64 (word);
  uint64_t next;
  do {
    next = rk_hlc_next_send (old, pt_ms);
    /* acq_rel: a stamp handed out happens-after every stamp it was derived from */
  } while (!atomic_compare_exchange_weak_explicit (RK_ATOMIC64 (word), &old, next,
      memory_order_acq_rel, memory_order_relaxed));
  return next;
}

uint64_t
rk_hlc_recv_at (uint64_t *word, uint64_t m, uint64_t pt_ms)
{
  uint64_t old = rk_load_relaxed64 (word);
  uint64_t next;
  do {
    next = rk_hlc_next_recv (old, m, pt_ms);
  } while (!atomic_compare_exchange_weak_explicit (RK_ATOMIC64 (word), &old, next,
      memory_order_acq_rel, memory_order_relaxed));
  return next;
}

uint64_t
rk_hlc_peek (const rk_hlc *c)
{
  return rk_load_acquire64 (&c->word);
}
