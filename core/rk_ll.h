/* gst-ringkernel: the low-latency mirror of a ring: a K2K inbox on one device (rk_route.ll_addr), and
 * a GPU actor's H2K and K2H rings.
 *
 * A link record is published by the producer's fence and then the ring's head, and the consumer
 * reads the head, then the slot, then the payload: on one GPU that is a fence and three dependent
 * trips to L2 between the producer's stores and the consumer's handler. For a small record the
 * producer also writes the link record and its payload into the slot's mirror: lines of 16 bytes,
 * each holding 8 bytes of data as two 4-byte words, each word beside a copy of the slot's flag. An
 * aligned 8-byte store is seen whole or not at all, so a consumer that reads the lines of a slot and
 * finds every flag it expects has the record and its payload, with no fence between the producer's
 * stores and its loads, and one trip. The flag is the ring position's, and every use of a slot
 * writes all of its lines, so a line holds the flag of this position or of the slot's last use (the
 * ring's indices only grow; the mirror starts zeroed), never a stale one that looks new. This is the
 * low-latency protocol of NCCL's LL transport, applied to one ring.
 *
 * The same mirror serves a ring of mapped memory between the host and a GPU actor (H2K): the host
 * writes a record with no payload in the arena, or a small one (rk_ll_carries ()), into the slot's
 * mirror, and the actor, which reads the head and the slot by PCIe round trips, reads the record and
 * its payload in one. The other way (K2H), the actor writes the answer to a record that came alone,
 * and up to 448 bytes of its payload (RK_REC_F_LL_OUT: there only, not in the output region), into
 * the mirror before its fence and head, and the host takes it without waiting for the fence. Only an
 * answer that leaves nothing in the output region goes there (rk_ll_answer_whole ()): the stores of a
 * payload in the region reach host memory in no order with the mirror's until the fence, so the host
 * could read the region before they land. The record's sequence number is its ring position on both
 * rings, which the reader checks too: a slot that is not mirrored at every use could otherwise hold a
 * stale record whose flag has come round.
 *
 * The producer still fences and moves the head after writing the mirror: the ring stays the truth
 * for everything else (a record too large for the mirror, a consumer served by its whole block, the
 * producer's room). A consumer that took a record from the mirror may move the tail past a head the
 * producer has not stored yet, so head and tail are compared as a signed distance, never for
 * equality. Host and device code share these helpers; core's C functions at the end are the
 * reference that tests compare with.
 */
#ifndef RK_LL_H
#define RK_LL_H

#ifndef __cplusplus
#include <stdbool.h>
#endif
#include <stdint.h>

#include "rk_abi.h"

#define RK_LL_SLOT_BYTES 1024u                  /* one slot's mirror */
#define RK_LL_LINES (RK_LL_SLOT_BYTES / 16u)    /* 16-byte lines, 8 data bytes each */
#define RK_LL_DATA_BYTES (RK_LL_LINES * 8u)     /* the link record, then its payload */
#define RK_LL_MAX_PAYLOAD (RK_LL_DATA_BYTES - RK_RECORD_SIZE) /* 448 */

/* A line: two 8-byte words, each 4 bytes of data (low half) and the flag (high half). A word is one
 * aligned 8-byte access on either side, which the memory model makes single-copy atomic. */
typedef struct rk_ll_line {
  uint64_t w[2];
} rk_ll_line;
RK_STATIC_ASSERT (sizeof (rk_ll_line) == 16, "rk_ll_line is 16 bytes");

/* The flag of ring position pos: never the flag of pos - entries, and 0 (a slot not written yet) only
 * for a position 2^32 - 1, long after the slot's first use. */
RK_HD static inline uint32_t
rk_ll_flag (uint64_t pos)
{
  return (uint32_t) pos + 1u;
}

/* An answer (K2H) whole in the mirror, which the host may take there before the actor's fence and
 * head: one whose payload is with it (RK_REC_F_LL_OUT) or in the record (inline), or that has none in
 * the output region (failed, forwarded down a K2K route, or empty). */
RK_HD static inline bool
rk_ll_answer_whole (uint32_t flags, uint32_t len)
{
  return (flags & (RK_REC_F_LL_OUT | RK_REC_F_INLINE | RK_REC_F_ERROR | RK_REC_F_TO_ROUTE)) || len == 0;
}

/* Lines that carry a link record and len bytes of payload (len <= RK_LL_MAX_PAYLOAD). */
RK_HD static inline uint32_t
rk_ll_lines (uint32_t len)
{
  return (RK_RECORD_SIZE + len + 7u) / 8u;
}

RK_HD static inline uint64_t
rk_ll_word (uint32_t data, uint32_t flag)
{
  return (uint64_t) flag << 32 | data;
}

/* Both words of a line written for `flag`. */
RK_HD static inline bool
rk_ll_ready (uint64_t w0, uint64_t w1, uint32_t flag)
{
  return (uint32_t) (w0 >> 32) == flag && (uint32_t) (w1 >> 32) == flag;
}

/* A record whose payload travels in the mirror, after it: one of the host's (in its arena, not staged
 * by a copy engine) small enough. Others carry only the record (their payload is in the record, the
 * inbox, or nowhere), or are not mirrored at all. */
RK_HD static inline bool
rk_ll_carries (uint32_t type, uint32_t flags, uint32_t len)
{
  return type == RK_CMD_PROCESS && len <= RK_LL_MAX_PAYLOAD
      && !(flags & (RK_REC_F_INLINE | RK_REC_F_FROM_INBOX | RK_REC_F_STAGED));
}

/* The slot of ring position pos in a mirror of entries slots (mask = entries - 1). */
RK_HD static inline rk_ll_line *
rk_ll_slot (uint64_t ll_addr, uint64_t pos, uint32_t mask)
{
  return (rk_ll_line *) (uintptr_t) (ll_addr + (pos & mask) * RK_LL_SLOT_BYTES);
}

#ifndef __CUDACC__
#include <string.h>

/* Host: write record rec and its len bytes of payload (none: payload NULL) into slot for flag, every
 * line of the slot (zeros after the payload), each word by one atomic store: the host side of a
 * mirror that a GPU reads, and the reference that tests compare the GPU's with. */
static inline void
rk_ll_write (rk_ll_line *slot, const rk_record *rec, const void *payload, uint32_t len, uint32_t flag)
{
  uint8_t data[RK_LL_DATA_BYTES];
  memset (data, 0, sizeof data);
  memcpy (data, rec, RK_RECORD_SIZE);
  if (payload && len)
    memcpy (data + RK_RECORD_SIZE, payload, len);
  for (uint32_t k = 0; k < RK_LL_LINES; k++) {
    uint32_t d[2];
    memcpy (d, data + 8 * k, 8);
    __atomic_store_n (&slot[k].w[0], rk_ll_word (d[0], flag), __ATOMIC_RELAXED);
    __atomic_store_n (&slot[k].w[1], rk_ll_word (d[1], flag), __ATOMIC_RELAXED);
  }
}

/* Host: read a record with len bytes of payload from slot, if every line of it was written for flag;
 * false (and nothing read) otherwise. */
static inline bool
rk_ll_read (const rk_ll_line *slot, uint32_t flag, uint32_t len, rk_record *rec, void *payload)
{
  uint8_t data[RK_LL_DATA_BYTES];
  const uint32_t n = rk_ll_lines (len);
  for (uint32_t k = 0; k < n; k++) {
    const uint64_t w0 = __atomic_load_n (&slot[k].w[0], __ATOMIC_RELAXED);
    const uint64_t w1 = __atomic_load_n (&slot[k].w[1], __ATOMIC_RELAXED);
    if (!rk_ll_ready (w0, w1, flag))
      return false;
    const uint32_t d[2] = { (uint32_t) w0, (uint32_t) w1 };
    memcpy (data + 8 * k, d, 8);
  }
  memcpy (rec, data, RK_RECORD_SIZE);
  if (len)
    memcpy (payload, data + RK_RECORD_SIZE, len);
  return true;
}
#endif /* !__CUDACC__ */

#endif /* RK_LL_H */
