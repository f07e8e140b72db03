/* gst-ringkernel: placing payloads in a K2K inbox's arena (rk_abi.h, rk_route).
 *
 * The producer of a link writes payloads into the consumer's arena in order, as a ring of bytes: each
 * payload starts where the one before ended (aligned), or at 0 when the arena's end is too near. The
 * consumer takes records, and so payloads, in order too, so the bytes in use always run from the oldest
 * record's payload to the newest one's end. The producer learns that start from the oldest record's
 * slot, which it wrote itself and the consumer never changes: no index beside the ring's own is needed.
 * Used by the CPU actor and by device code alike.
 */
#ifndef RK_LINK_H
#define RK_LINK_H

#ifndef __cplusplus
#include <stdbool.h>
#endif
#include <stdint.h>

#include "rk_abi.h"

#define RK_LINK_ALIGN RK_ARENA_ALIGN

/* The bytes a payload of len bytes takes: rounded up, and never none. An empty payload (an empty
 * buffer, an error record) takes RK_LINK_ALIGN too: one that took nothing would, as the only one in
 * use, leave the newest payload's end where the oldest starts, which is how a full arena looks, and
 * nothing more would be placed until it was consumed. */
RK_HD static inline uint64_t
rk_link_span (uint64_t len)
{
  return len ? (len + RK_LINK_ALIGN - 1) / RK_LINK_ALIGN * RK_LINK_ALIGN : RK_LINK_ALIGN;
}

/* Where a payload of len bytes goes. pos: end of the newest payload; oldest: start of the oldest one
 * still in use (ignored when none is, `empty`); size: the arena's bytes (a multiple of RK_LINK_ALIGN).
 * Returns true with *off when it fits now. When nothing is in use the next payload starts at 0. A
 * payload larger than the arena never fits: check rk_link_span (len) <= size first. */
RK_HD static inline bool
rk_link_place (uint64_t pos, uint64_t oldest, bool empty, uint64_t size, uint64_t len, uint64_t *off)
{
  const uint64_t need = rk_link_span (len);
  if (empty) {
    *off = 0;
    return need <= size;
  }
  if (pos > oldest) { /* in use: [oldest, pos); free: [pos, size) and [0, oldest) */
    if (size - pos >= need) {
      *off = pos;
      return true;
    }
    if (need <= oldest) { /* ends at most at oldest: pos == oldest then means full, never empty */
      *off = 0;
      return true;
    }
    return false;
  }
  if (pos < oldest && oldest - pos >= need) { /* in use wraps: free is [pos, oldest) */
    *off = pos;
    return true;
  }
  return false; /* pos == oldest while something is in use: the arena is full */
}

#endif /* RK_LINK_H */
