/* gst-ringkernel: host-side waiting primitives (Linux futexes) and clocks. */
#ifndef RK_WAIT_H
#define RK_WAIT_H

#include <stdbool.h>
#include <stdint.h>

#include "rk_barrier.h" /* rk_cpu_relax () */

/* Sleep while *word == expected, at most timeout_ns (< 0: no limit). Returns 0 or -ETIMEDOUT. */
int rk_futex_wait (uint32_t *word, uint32_t expected, int64_t timeout_ns);
/* Wake every thread sleeping on word. */
void rk_futex_wake_all (uint32_t *word);
/* Bump a futex word and wake its sleepers. Single writer per word, or callers serialise. */
void rk_futex_bump (uint32_t *word);
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t rk_now_ns (void);

/* A spin bounded by the clock rather than by a count of pause instructions, whose length differs
 * tenfold between CPUs: start with rk_spin s = { 0 }, and call rk_spin_on () once a turn of the loop,
 * after looking for what it waits for. It pauses, and says false once `ns` have passed since its first
 * turns (it reads the clock every 64 turns). */
typedef struct {
  uint64_t until;
  uint32_t turns;
} rk_spin;

static inline bool
rk_spin_on (rk_spin *s, uint64_t ns)
{
  rk_cpu_relax ();
  if ((++s->turns & 63) == 0) {
    const uint64_t now = rk_now_ns ();
    if (!s->until)
      s->until = now + ns;
    else if (now >= s->until)
      return false;
  }
  return true;
}

#endif /* RK_WAIT_H */
