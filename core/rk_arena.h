/* gst-ringkernel: a payload arena allocator for the host.
 *
 * The arena is a byte range that the host hands out in contiguous, RK_ARENA_ALIGN-aligned regions, in
 * order, like a ring: allocation moves `head` forward, and `tail` follows the oldest region not yet
 * released. Regions may be released in any order (output buffers come back when downstream drops them);
 * space is reused once every older region has been released too. Not thread-safe: the caller locks.
 */
#ifndef RK_ARENA_H
#define RK_ARENA_H

#include <stdint.h>

typedef struct rk_arena_span {
  uint64_t end;      /* free-running byte position just past this region */
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
/* Allocate len bytes. On success returns 0, the region's offset and a token (never 0) to release it.
 * -ENOSPC: not now (wait for releases); -EMSGSIZE: never (len > size); -ENOMEM. */
int rk_arena_alloc (rk_arena *a, uint64_t len, uint64_t *offset, uint64_t *token);
/* Release a region by its token. Returns 0, or -EINVAL for an unknown or already released token. */
int rk_arena_release (rk_arena *a, uint64_t token);
/* Bytes that are allocated or waiting for an older region's release. */
uint64_t rk_arena_used (const rk_arena *a);

#endif /* RK_ARENA_H */
