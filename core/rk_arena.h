/* gst-ringkernel: a payload arena allocator for the host.
 *
 * The arena is a byte range that the host hands out in contiguous, RK_ARENA_ALIGN-aligned regions, in
 * order, like a ring: allocation moves `head` forward, and `tail` follows the oldest region not yet
 * released. Regions may be released in any order (output buffers come back when downstream drops them);
 * space is reused once every older region has been released too, and at once when every newer one
 * has: `head` then goes back to the end of the newest region still held. Not thread-safe: the caller
 * locks.
 */
#ifndef RK_ARENA_H
#define RK_ARENA_H

#include <stdbool.h>
#include <stdint.h>

typedef struct rk_arena_span {
  uint64_t begin;    /* free-running byte position of this region */
  uint64_t end;      /* ... just past it, and past the end skipped before the next region, if any */
  uint64_t pad;      /* the end skipped before this region (counted in the previous region's end) */
  uint32_t released; /* released by its owner */
  uint32_t reserved_;
} rk_arena_span;

typedef struct rk_arena {
  uint64_t size; /* bytes */
  uint64_t head; /* free-running byte position of the next allocation */
  uint64_t tail; /* free-running byte position of the oldest unreleased region */
  /* spans in allocation order; span of token t is at spans[(start + t - first) % cap] */
  rk_arena_span *spans;
  uint32_t cap, start, count;
  uint64_t first; /* token of the oldest span */
} rk_arena;

/* size must be a non-zero multiple of RK_ARENA_ALIGN. Returns 0, -EINVAL or -ENOMEM. */
int rk_arena_init (rk_arena *a, uint64_t size);
void rk_arena_clear (rk_arena *a);
/* Allocate len bytes. On success returns 0, the region's offset and a token (never 0) to release it,
 * which no other region held has (one handed back may be given again).
 * -ENOSPC: not now (wait for releases); -EMSGSIZE: never (len > size); -ENOMEM. */
int rk_arena_alloc (rk_arena *a, uint64_t len, uint64_t *offset, uint64_t *token);
/* Release a region by its token. Returns 0, or -EINVAL for an unknown or already released token. */
int rk_arena_release (rk_arena *a, uint64_t token);
/* Bytes that are allocated or waiting for an older region's release. */
uint64_t rk_arena_used (const rk_arena *a);
/* Whether a region of len bytes could still be allocated if region `token` were the only one held
 * (every other released). An owner that may keep a region for as long as it likes (an output buffer
 * that a sink keeps as its last) asks this first: a region kept in the middle of the arena leaves
 * room only after its end and before its start, since regions never wrap and never pass it. An
 * unknown or released token: true. */
bool rk_arena_fits_beside (const rk_arena *a, uint64_t token, uint64_t len);

#endif /* RK_ARENA_H */
