/* gst-ringkernel: host-side waiting primitives (Linux futexes) and clocks. */
#ifndef RK_WAIT_H
#define RK_WAIT_H

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

#endif /* RK_WAIT_H */
