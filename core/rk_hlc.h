/* gst-ringkernel: hybrid logical clock.
 *
 * A timestamp is one 64-bit word: the upper 48 bits are physical time in milliseconds (Unix epoch), the
 * lower 16 bits a logical counter. Comparing two words as integers orders them; the node id of the clock
 * that made a timestamp breaks ties (rk_hlc_compare). A clock is updated as one word with compare-and-
 * swap, so two threads may tick and receive on the same clock at once.
 *
 *   send / local event:  t' = max (t + 1, pt << 16)
 *   receive m:           t' = max (max (t, m) + 1, pt << 16)
 *
 * which is the classic rule (l' = max (l, l_m, pt); c' from whichever of l, l_m equals l', plus one, or 0
 * when pt is ahead) written on whole words. A counter that overflows carries into the millisecond field,
 * which keeps the clock monotonic.
 */
#ifndef RK_HLC_H
#define RK_HLC_H

#include <stdint.h>

#include "rk_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RK_HLC_LOGICAL_BITS 16
#define RK_HLC_LOGICAL_MASK ((UINT64_C (1) << RK_HLC_LOGICAL_BITS) - 1)

typedef struct rk_hlc {
  uint64_t word; /* accessed atomically */
  uint32_t node;
} rk_hlc;

RK_HD static inline uint64_t
rk_hlc_make (uint64_t physical_ms, uint32_t logical)
{
  return (physical_ms << RK_HLC_LOGICAL_BITS) | (logical & RK_HLC_LOGICAL_MASK);
}

RK_HD static inline uint64_t
rk_hlc_physical_ms (uint64_t ts)
{
  return ts >> RK_HLC_LOGICAL_BITS;
}

RK_HD static inline uint32_t
rk_hlc_logical (uint64_t ts)
{
  return (uint32_t) (ts & RK_HLC_LOGICAL_MASK);
}

/* Pure update rules on one word (the C reference for device code). pt_ms is physical time. */
RK_HD static inline uint64_t
rk_hlc_next_send (uint64_t t, uint64_t pt_ms)
{
  uint64_t p = pt_ms << RK_HLC_LOGICAL_BITS;
  return p > t ? p : t + 1;
}

RK_HD static inline uint64_t
rk_hlc_next_recv (uint64_t t, uint64_t m, uint64_t pt_ms)
{
  uint64_t hi = t > m ? t : m;
  uint64_t p = pt_ms << RK_HLC_LOGICAL_BITS;
  return p > hi ? p : hi + 1;
}

/* An actor serving a message stamped m (0: none) ticks twice at pt_ms: a receive of m (for m == 0, a
 * local event), then the send of its answer. From clock t that gives max (rk_hlc_serve_floor (m, pt_ms),
 * t + 2), so the answers to a run of messages served at one pt_ms are a running maximum, which device
 * code computes as a parallel scan. */
RK_HD static inline uint64_t
rk_hlc_serve_floor (uint64_t m, uint64_t pt_ms)
{
  uint64_t p1 = (pt_ms << RK_HLC_LOGICAL_BITS) + 1, m2 = m + 2;
  return p1 > m2 ? p1 : m2;
}

void rk_hlc_init (rk_hlc *c, uint32_t node);

/* Physical time in milliseconds (CLOCK_REALTIME). */
uint64_t rk_hlc_wall_ms (void);

/* Tick for a send or local event with an explicit physical time, atomically; returns the new stamp. */
uint64_t rk_hlc_tick_at (uint64_t *word, uint64_t pt_ms);
/* Receive a remote stamp m with an explicit physical time, atomically; returns the new stamp. */
uint64_t rk_hlc_recv_at (uint64_t *word, uint64_t m, uint64_t pt_ms);

static inline uint64_t
rk_hlc_tick (rk_hlc *c)
{
  return rk_hlc_tick_at (&c->word, rk_hlc_wall_ms ());
}

static inline uint64_t
rk_hlc_recv (rk_hlc *c, uint64_t m)
{
  return rk_hlc_recv_at (&c->word, m, rk_hlc_wall_ms ());
}

uint64_t rk_hlc_peek (const rk_hlc *c);

/* Total order of (stamp, node) pairs: negative, zero or positive. */
RK_HD static inline int
rk_hlc_compare (uint64_t a, uint32_t a_node, uint64_t b, uint32_t b_node)
{
  if (a != b)
    return a < b ? -1 : 1;
  if (a_node != b_node)
    return a_node < b_node ? -1 : 1;
  return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* RK_HLC_H */
