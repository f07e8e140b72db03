/* gst-ringkernel: single-producer single-consumer ring operations over rk_ring (rk_abi.h).
 *
 * The producer owns head and prod_waiting, the consumer owns tail and cons_waiting. A caller that shares
 * one side between several threads serialises them itself. These are the host's operations; device code
 * implements the same protocol with its own primitives.
 */
#ifndef RK_RING_H
#define RK_RING_H

#include <stdbool.h>
#include <string.h>

#include "rk_abi.h"
#include "rk_barrier.h"

static inline bool
rk_is_pow2 (uint64_t v)
{
  return v != 0 && (v & (v - 1)) == 0;
}

/* Lay out a ring in `mem` (RK_RING_BYTES (entries) bytes, zeroed here). Returns -1 unless entries is a
 * power of two. `start` is the first index, so tests can start near the 64-bit wrap. */
static inline int
rk_ring_init (void *mem, uint32_t entries, uint64_t start)
{
  rk_ring *r = (rk_ring *) mem;
  if (!rk_is_pow2 (entries))
    return -1;
  memset (mem, 0, RK_RING_BYTES (entries));
  r->head = start;
  r->tail = start;
  r->entries = entries;
  r->mask = entries - 1;
  r->record_size = RK_RECORD_SIZE;
  r->version = RK_ABI_VERSION;
  return 0;
}

/* Producer: records that can be written now. Pairs with the consumer's release of tail. */
static inline uint32_t
rk_ring_free (rk_ring *r)
{
  uint64_t tail = rk_load_acquire64 (&r->tail);
  return r->entries - (uint32_t) (r->head - tail);
}

/* Producer: the slot for index head + i (i < rk_ring_free ()). */
static inline rk_record *
rk_ring_prod_slot (rk_ring *r, uint32_t i)
{
  return &rk_ring_slots (r)[(r->head + i) & r->mask];
}

/* Producer: make n written slots visible. Pairs with the consumer's load-acquire of head. */
static inline void
rk_ring_publish (rk_ring *r, uint32_t n)
{
  rk_store_release64 (&r->head, r->head + n);
}

/* Consumer: records ready to read. Pairs with the producer's release of head. A consumer that takes
 * records from a low-latency mirror (rk_ll.h) may have moved the tail past the head the producer has
 * stored so far: none then. */
static inline uint32_t
rk_ring_avail (rk_ring *r)
{
  uint64_t head = rk_load_acquire64 (&r->head);
  int64_t d = (int64_t) (head - r->tail);
  return d > 0 ? (uint32_t) d : 0;
}

/* Consumer: the slot for index tail + i (i < rk_ring_avail ()). */
static inline const rk_record *
rk_ring_cons_slot (rk_ring *r, uint32_t i)
{
  return &rk_ring_slots (r)[(r->tail + i) & r->mask];
}

/* Consumer: hand n slots back. Pairs with the producer's load-acquire of tail in rk_ring_free (). */
static inline void
rk_ring_release (rk_ring *r, uint32_t n)
{
  rk_store_release64 (&r->tail, r->tail + n);
}

/* Producer, one record: copy *rec into the next slot and publish. Returns false when full. */
static inline bool
rk_ring_push (rk_ring *r, const rk_record *rec)
{
  if (rk_ring_free (r) == 0)
    return false;
  *rk_ring_prod_slot (r, 0) = *rec;
  rk_ring_publish (r, 1);
  return true;
}

/* Consumer, one record: copy the oldest record out and release it. Returns false when empty. */
static inline bool
rk_ring_pop (rk_ring *r, rk_record *out)
{
  if (rk_ring_avail (r) == 0)
    return false;
  *out = *rk_ring_cons_slot (r, 0);
  rk_ring_release (r, 1);
  return true;
}

#endif /* RK_RING_H */
