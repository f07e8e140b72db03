/* gst-ringkernel: payload arena allocator (see rk_arena.h). */
#include "rk_arena.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rk_abi.h"

static uint64_t
align_up (uint64_t v, uint64_t a)
{
  return (v + a - 1) / a * a;
}

int
rk_arena_init (rk_arena *a, uint64_t size)
{
  memset (a, 0, sizeof *a);
  if (size == 0 || size % RK_ARENA_ALIGN)
    return -EINVAL;
  a->size = size;
  a->cap = 64;
  a->spans = calloc (a->cap, sizeof *a->spans);
  a->first = 1;
  return a->spans ? 0 : -ENOMEM;
}

void
rk_arena_clear (rk_arena *a)
{
  free (a->spans);
  memset (a, 0, sizeof *a);
}

static rk_arena_span *
span_at (const rk_arena *a, uint64_t token)
{
  return &a->spans[(a->start + (token - a->first)) % a->cap];
}

static int
grow (rk_arena *a)
{
  uint32_t ncap = a->cap * 2;
  rk_arena_span *n = calloc (ncap, sizeof *n);
  if (!n)
    return -ENOMEM;
  for (uint32_t i = 0; i < a->count; i++)
    n[i] = a->spans[(a->start + i) % a->cap];
  free (a->spans);
  a->spans = n;
  a->cap = ncap;
  a->start = 0;
  return 0;
}

/* The room a region of len bytes takes (at least one byte, aligned). */
static uint64_t
region_len (uint64_t len)
{
  return align_up (len ? len : 1, RK_ARENA_ALIGN);
}

/* Whether a region of len bytes (region_len ()) fits with head and tail where they are, and the end it
 * skips before it (*pad): regions never wrap. */
static bool
fits (const rk_arena *a, uint64_t head, uint64_t tail, uint64_t len, uint64_t *pad)
{
  const uint64_t pos = head % a->size;
  *pad = pos + len > a->size ? a->size - pos : 0;
  return head + *pad + len - tail <= a->size;
}

int
rk_arena_alloc (rk_arena *a, uint64_t len, uint64_t *offset, uint64_t *token)
{
  uint64_t pad;
  len = region_len (len);
  if (len > a->size)
    return -EMSGSIZE;
  if (a->count == 0) {
    /* empty: restart at the beginning so the whole arena is contiguous */
    a->head = a->tail = align_up (a->head, a->size);
  }
  if (!fits (a, a->head, a->tail, len, &pad))
    return -ENOSPC;
  if (a->count == a->cap) {
    int r = grow (a);
    if (r < 0)
      return r;
  }
  /* The skipped end belongs to the newest region (there is one: an empty arena restarts at 0, so
   * pad > 0 implies count > 0). Retiring that region then moves tail past the skip, to the start of
   * the new one; otherwise the skip would stay counted as used until the new region itself retired. */
  if (pad)
    span_at (a, a->first + a->count - 1)->end += pad;
  *token = a->first + a->count;
  a->count++;
  rk_arena_span *s = span_at (a, *token);
  s->begin = a->head + pad;
  s->end = a->head + pad + len;
  s->pad = pad;
  s->released = 0;
  *offset = (a->head + pad) % a->size;
  a->head = s->end;
  return 0;
}

int
rk_arena_release (rk_arena *a, uint64_t token)
{
  if (token < a->first || token >= a->first + a->count)
    return -EINVAL;
  rk_arena_span *s = span_at (a, token);
  if (s->released)
    return -EINVAL;
  s->released = 1;
  while (a->count && span_at (a, a->first)->released) {
    a->tail = span_at (a, a->first)->end;
    a->first++;
    a->start = (a->start + 1) % a->cap;
    a->count--;
  }
  /* The newest ones too: head goes back to where the newest region still held ends (an output copied
   * out and handed back at once leaves no hole). The oldest is held, so one is left. */
  while (a->count > 1 && span_at (a, a->first + a->count - 1)->released) {
    const uint64_t pad = span_at (a, a->first + a->count - 1)->pad;
    a->count--;
    rk_arena_span *prev = span_at (a, a->first + a->count - 1);
    prev->end -= pad; /* the end skipped for the region that went */
    a->head = prev->end;
  }
  return 0;
}

bool
rk_arena_fits_beside (const rk_arena *a, uint64_t token, uint64_t len)
{
  if (token < a->first || token >= a->first + a->count || span_at (a, token)->released)
    return true;
  const rk_arena_span *s = span_at (a, token);
  /* its own end: without the skip that a newer region may have added */
  const uint64_t end = token + 1 < a->first + a->count ? s->end - span_at (a, token + 1)->pad : s->end;
  uint64_t pad;
  len = region_len (len);
  /* as rk_arena_alloc () would place it, with tail at this region and head at its end */
  return len <= a->size && fits (a, end, s->begin, len, &pad);
}

uint64_t
rk_arena_used (const rk_arena *a)
{
  return a->head - a->tail;
}
