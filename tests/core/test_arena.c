/* gst-ringkernel: the payload arena allocator (core/rk_arena.[ch]).
 *
 * Deterministic cases (in-order and out-of-order release, -ENOSPC then success, -EMSGSIZE, alignment,
 * no region wrapping past the end, bad releases, more than 64 live regions), then a randomized run of a
 * few 100 k operations against two independent shadows: a byte-ownership map (live regions never
 * overlap and stay inside the arena) and a model of the documented policy (regions are handed out in
 * ring order, contiguous, skipping the end rather than wrapping; space is reused once every older region
 * has been released), which predicts each allocation's offset, each -ENOSPC and rk_arena_used ().
 */
#include <errno.h>

#include "rk_abi.h"
#include "rk_arena.h"
#include "rk_test.h"

#define U RK_ARENA_ALIGN /* one allocation unit */

static uint64_t
alloc_ok (rk_arena *a, uint64_t len, uint64_t expect_off)
{
  uint64_t off = ~UINT64_C (0), tok = 0;
  int r = rk_arena_alloc (a, len, &off, &tok);
  CHECK_MSG (r == 0, "alloc %" PRIu64 ": %d", len, r);
  CHECK_MSG (off == expect_off, "alloc %" PRIu64 " at %" PRIu64 ", expected %" PRIu64, len, off,
      expect_off);
  CHECK (tok != 0);
  CHECK_EQ_U (off % RK_ARENA_ALIGN, 0);
  CHECK (off + len <= a->size);
  return tok;
}

static void
alloc_fails (rk_arena *a, uint64_t len, int expect)
{
  uint64_t off = 12345, tok = 6789;
  uint64_t used = rk_arena_used (a);
  int r = rk_arena_alloc (a, len, &off, &tok);
  CHECK_MSG (r == expect, "alloc %" PRIu64 ": %d, expected %d", len, r, expect);
  CHECK_EQ_U (rk_arena_used (a), used); /* a refusal changes nothing */
}

static void
test_init (void)
{
  rk_arena a;
  SECTION ("init");
  CHECK_EQ_I (rk_arena_init (&a, 0), -EINVAL);
  CHECK_EQ_I (rk_arena_init (&a, 100), -EINVAL);
  CHECK_EQ_I (rk_arena_init (&a, U + 1), -EINVAL);
  CHECK_EQ_I (rk_arena_init (&a, U), 0);
  CHECK_EQ_U (a.size, U);
  CHECK_EQ_U (rk_arena_used (&a), 0);
  rk_arena_clear (&a);
  CHECK_EQ_I (rk_arena_init (&a, 1 << 20), 0);
  rk_arena_clear (&a);
}

static void
test_in_order (void)
{
  rk_arena a;
  uint64_t tok[16];

  SECTION ("alloc and release in order; -ENOSPC when full, success after releases");
  CHECK_EQ_I (rk_arena_init (&a, 16 * U), 0);
  for (int i = 0; i < 16; i++) {
    tok[i] = alloc_ok (&a, U, (uint64_t) i * U);
    CHECK_EQ_U (rk_arena_used (&a), (uint64_t) (i + 1) * U);
    for (int j = 0; j < i; j++)
      CHECK (tok[j] != tok[i]);
  }
  alloc_fails (&a, 1, -ENOSPC);
  alloc_fails (&a, U, -ENOSPC);
  /* release the oldest: its space comes back, at the start (regions are handed out in ring order) */
  CHECK_EQ_I (rk_arena_release (&a, tok[0]), 0);
  CHECK_EQ_U (rk_arena_used (&a), 15 * U);
  alloc_fails (&a, 2 * U, -ENOSPC);
  tok[0] = alloc_ok (&a, U, 0);
  alloc_fails (&a, U, -ENOSPC);
  /* go around several times releasing the oldest and allocating */
  for (int round = 1; round < 64; round++) {
    int i = round % 16;
    CHECK_EQ_I (rk_arena_release (&a, tok[i]), 0);
    tok[i] = alloc_ok (&a, U, (uint64_t) i * U);
    alloc_fails (&a, U, -ENOSPC);
  }
  for (int k = 0; k < 16; k++) {
    int i = (64 + k) % 16;
    CHECK_EQ_I (rk_arena_release (&a, tok[i]), 0);
    CHECK_EQ_U (rk_arena_used (&a), (uint64_t) (15 - k) * U);
  }
  CHECK_EQ_U (rk_arena_used (&a), 0);
  /* empty: the whole arena is one contiguous region again */
  tok[0] = alloc_ok (&a, 16 * U, 0);
  CHECK_EQ_I (rk_arena_release (&a, tok[0]), 0);
  rk_arena_clear (&a);
}

static void
test_out_of_order (void)
{
  rk_arena a;
  uint64_t t[4];

  SECTION ("release out of order: space is reused once every older region is released, or every "
           "newer one");
  CHECK_EQ_I (rk_arena_init (&a, 4 * U), 0);
  for (int i = 0; i < 4; i++)
    t[i] = alloc_ok (&a, U, (uint64_t) i * U);
  /* the newest released: its room comes back at once; one in the middle does not */
  CHECK_EQ_I (rk_arena_release (&a, t[3]), 0);
  CHECK_EQ_U (rk_arena_used (&a), 3 * U);
  CHECK_EQ_I (rk_arena_release (&a, t[1]), 0);
  CHECK_EQ_U (rk_arena_used (&a), 3 * U);
  alloc_fails (&a, 2 * U, -ENOSPC);
  t[3] = alloc_ok (&a, U, 3 * U);
  alloc_fails (&a, U, -ENOSPC);
  /* the oldest goes: it and the released t[1] behind it come back; t[2] still holds [2U, 3U) */
  CHECK_EQ_I (rk_arena_release (&a, t[0]), 0);
  CHECK_EQ_U (rk_arena_used (&a), 2 * U);
  alloc_fails (&a, 3 * U, -ENOSPC);
  uint64_t n = alloc_ok (&a, 2 * U, 0);
  alloc_fails (&a, U, -ENOSPC);
  CHECK_EQ_I (rk_arena_release (&a, t[2]), 0);
  CHECK_EQ_I (rk_arena_release (&a, t[3]), 0);
  CHECK_EQ_U (rk_arena_used (&a), 2 * U);
  uint64_t m = alloc_ok (&a, 2 * U, 2 * U);
  CHECK_EQ_I (rk_arena_release (&a, m), 0);
  CHECK_EQ_U (rk_arena_used (&a), 2 * U);
  CHECK_EQ_I (rk_arena_release (&a, n), 0);
  CHECK_EQ_U (rk_arena_used (&a), 0);
  rk_arena_clear (&a);
}

static void
test_newest_back (void)
{
  rk_arena a;

  SECTION ("the newest region handed back: head goes back, without the end skipped for it; what "
           "fits beside one region held alone");
  CHECK_EQ_I (rk_arena_init (&a, 16 * U), 0);
  uint64_t r0 = alloc_ok (&a, 4 * U, 0), r1 = alloc_ok (&a, 4 * U, 4 * U), r2 = alloc_ok (&a, 6 * U, 8 * U);
  /* r1 alone, [4U, 8U): room after it for 8U, before it for 4U */
  CHECK (rk_arena_fits_beside (&a, r1, 8 * U));
  CHECK (!rk_arena_fits_beside (&a, r1, 8 * U + 1));
  /* r2 alone, [8U, 14U): 2U after it, 8U before it */
  CHECK (rk_arena_fits_beside (&a, r2, 8 * U));
  CHECK (!rk_arena_fits_beside (&a, r2, 9 * U));
  CHECK (!rk_arena_fits_beside (&a, r0, 16 * U)); /* never the whole arena beside a region */
  CHECK (rk_arena_fits_beside (&a, 999, 16 * U)); /* no such region */
  /* r2 handed back: its room is taken again at once (before, head stayed past it and this failed) */
  CHECK_EQ_I (rk_arena_release (&a, r2), 0);
  CHECK_EQ_U (rk_arena_used (&a), 8 * U);
  r2 = alloc_ok (&a, 6 * U, 8 * U);
  /* a region that skips the end, with r0 held: -ENOSPC; with r0 gone, at 0 */
  alloc_fails (&a, 4 * U, -ENOSPC);
  CHECK_EQ_I (rk_arena_release (&a, r0), 0);
  uint64_t r3 = alloc_ok (&a, 4 * U, 0);
  CHECK_EQ_U (rk_arena_used (&a), 16 * U); /* [4U, 14U), the skipped [14U, 16U) and [0, 4U) */
  /* r2's own end is 14U, though the skip for r3 is counted in it */
  CHECK (rk_arena_fits_beside (&a, r2, 2 * U));
  CHECK (rk_arena_fits_beside (&a, r2, 8 * U));
  CHECK (!rk_arena_fits_beside (&a, r2, 9 * U));
  /* r3 handed back: head goes back to r2's end, 14U, not past the skip */
  CHECK_EQ_I (rk_arena_release (&a, r3), 0);
  CHECK_EQ_U (rk_arena_used (&a), 10 * U);
  uint64_t r4 = alloc_ok (&a, 2 * U, 14 * U);
  CHECK_EQ_U (r4, r3); /* a token names a region held: once handed back, it may name the next */
  CHECK_EQ_I (rk_arena_release (&a, r1), 0);
  CHECK_EQ_I (rk_arena_release (&a, r4), 0);
  CHECK_EQ_I (rk_arena_release (&a, r2), 0);
  CHECK_EQ_U (rk_arena_used (&a), 0);
  rk_arena_clear (&a);
}

static void
test_sizes (void)
{
  rk_arena a;

  SECTION ("-EMSGSIZE, alignment of offsets and lengths");
  CHECK_EQ_I (rk_arena_init (&a, 8 * U), 0);
  alloc_fails (&a, 8 * U + 1, -EMSGSIZE);
  alloc_fails (&a, 9 * U, -EMSGSIZE);
  alloc_fails (&a, UINT32_MAX, -EMSGSIZE);
  uint64_t t = alloc_ok (&a, 8 * U, 0); /* exactly the size: fits */
  alloc_fails (&a, 8 * U + 1, -EMSGSIZE); /* never, even while full */
  alloc_fails (&a, 1, -ENOSPC);          /* not now */
  CHECK_EQ_I (rk_arena_release (&a, t), 0);
  t = alloc_ok (&a, 8 * U - 1, 0);
  CHECK_EQ_U (rk_arena_used (&a), 8 * U);
  CHECK_EQ_I (rk_arena_release (&a, t), 0);

  /* every length rounds up to whole units; offsets stay aligned */
  static const uint64_t lens[] = { 0, 1, U - 1, U, U + 1, 2 * U - 1 };
  uint64_t toks[6], off = 0;
  for (int i = 0; i < 6; i++) {
    uint64_t units = lens[i] ? (lens[i] + U - 1) / U : 1;
    toks[i] = alloc_ok (&a, lens[i], off);
    off += units * U;
    CHECK_EQ_U (rk_arena_used (&a), off);
  }
  for (int i = 5; i >= 0; i--)
    CHECK_EQ_I (rk_arena_release (&a, toks[i]), 0);
  CHECK_EQ_U (rk_arena_used (&a), 0);
  rk_arena_clear (&a);
}

static void
test_no_wrap (void)
{
  rk_arena a;

  SECTION ("regions never wrap past the end; the skipped end is reused");
  CHECK_EQ_I (rk_arena_init (&a, 4 * U), 0);
  uint64_t A = alloc_ok (&a, 2 * U, 0);
  uint64_t B = alloc_ok (&a, U, 2 * U);
  CHECK_EQ_I (rk_arena_release (&a, A), 0);
  /* [3U, 4U) is free but too small: C goes to the start, the end is skipped */
  uint64_t C = alloc_ok (&a, 2 * U, 0);
  alloc_fails (&a, U, -ENOSPC); /* [2U, 3U) held by B, the end [3U, 4U) skipped, [0, 2U) held by C */
  /* B goes: every region older than C is released, so [2U, 4U) is free again, skipped end included */
  CHECK_EQ_I (rk_arena_release (&a, B), 0);
  CHECK_EQ_U (rk_arena_used (&a), 2 * U);
  uint64_t D = alloc_ok (&a, 2 * U, 2 * U);
  alloc_fails (&a, U, -ENOSPC);
  CHECK_EQ_I (rk_arena_release (&a, C), 0);
  CHECK_EQ_U (rk_arena_used (&a), 2 * U);
  uint64_t E = alloc_ok (&a, 2 * U, 0);
  CHECK_EQ_I (rk_arena_release (&a, D), 0);
  CHECK_EQ_I (rk_arena_release (&a, E), 0);
  CHECK_EQ_U (rk_arena_used (&a), 0);
  rk_arena_clear (&a);
}

static void
test_bad_release (void)
{
  rk_arena a;

  SECTION ("bad releases: -EINVAL");
  CHECK_EQ_I (rk_arena_init (&a, 8 * U), 0);
  CHECK_EQ_I (rk_arena_release (&a, 0), -EINVAL);
  CHECK_EQ_I (rk_arena_release (&a, 1), -EINVAL); /* nothing handed out yet */
  uint64_t t1 = alloc_ok (&a, U, 0);
  uint64_t t2 = alloc_ok (&a, U, U);
  uint64_t t3 = alloc_ok (&a, U, 2 * U);
  CHECK_EQ_I (rk_arena_release (&a, 0), -EINVAL);
  CHECK_EQ_I (rk_arena_release (&a, t3 + 1), -EINVAL);
  CHECK_EQ_I (rk_arena_release (&a, t3 + 1000), -EINVAL);
  CHECK_EQ_I (rk_arena_release (&a, UINT64_MAX), -EINVAL);
  /* double release of a region that is still waiting for an older one */
  CHECK_EQ_I (rk_arena_release (&a, t2), 0);
  CHECK_EQ_I (rk_arena_release (&a, t2), -EINVAL);
  CHECK_EQ_U (rk_arena_used (&a), 3 * U);
  /* double release of a region that was retired */
  CHECK_EQ_I (rk_arena_release (&a, t1), 0);
  CHECK_EQ_U (rk_arena_used (&a), U);
  CHECK_EQ_I (rk_arena_release (&a, t1), -EINVAL);
  CHECK_EQ_I (rk_arena_release (&a, t2), -EINVAL);
  CHECK_EQ_U (rk_arena_used (&a), U);
  CHECK_EQ_I (rk_arena_release (&a, t3), 0);
  CHECK_EQ_I (rk_arena_release (&a, t3), -EINVAL);
  CHECK_EQ_U (rk_arena_used (&a), 0);
  /* the bad releases did not disturb anything */
  uint64_t t4 = alloc_ok (&a, 8 * U, 0);
  CHECK (t4 != t1 && t4 != t2 && t4 != t3);
  CHECK_EQ_I (rk_arena_release (&a, t4), 0);
  rk_arena_clear (&a);
}

static void
test_growth (rk_test_rng *rng)
{
  enum { N = 1000 };
  rk_arena a;
  static uint64_t tok[N];
  static int order[N];

  SECTION ("more than 64 live regions (span table growth), with the table's start moved");
  CHECK_EQ_I (rk_arena_init (&a, (uint64_t) N * U), 0);
  /* 50 live, retire 40 from the front so the span table's start is not at 0, then grow past 64 */
  for (int i = 0; i < 50; i++)
    tok[i] = alloc_ok (&a, U, (uint64_t) i * U);
  for (int i = 0; i < 40; i++)
    CHECK_EQ_I (rk_arena_release (&a, tok[i]), 0);
  for (int i = 50; i < N; i++)
    tok[i] = alloc_ok (&a, 1, (uint64_t) i * U);
  alloc_fails (&a, 41 * U, -ENOSPC);
  CHECK_EQ_U (rk_arena_used (&a), (uint64_t) (N - 40) * U);
  /* release the rest in random order; used drops only when the oldest or the newest live region goes */
  for (int i = 40; i < N; i++)
    order[i - 40] = i;
  for (int i = N - 41; i > 0; i--) {
    int j = (int) rk_test_below (rng, (uint64_t) i + 1), x = order[i];
    order[i] = order[j];
    order[j] = x;
  }
  static int released[N];
  memset (released, 0, sizeof released);
  int oldest = 40, newest = N - 1;
  for (int k = 0; k < N - 40; k++) {
    int i = order[k];
    CHECK_EQ_I (rk_arena_release (&a, tok[i]), 0);
    released[i] = 1;
    while (oldest < N && released[oldest])
      oldest++;
    while (newest >= oldest && released[newest])
      newest--;
    /* live span from the oldest unreleased region to the end of the newest one */
    CHECK_EQ_U (rk_arena_used (&a), oldest <= newest ? (uint64_t) (newest + 1 - oldest) * U : 0);
  }
  CHECK_EQ_U (rk_arena_used (&a), 0);
  for (int i = 40; i < N; i++)
    CHECK_EQ_I (rk_arena_release (&a, tok[i]), -EINVAL);
  rk_arena_clear (&a);
}

/* ---- randomized, against two shadows ---- */

typedef struct mspan {
  uint64_t token, off, alen;
  int released;
} mspan;

typedef struct model {
  uint64_t size;
  mspan *q; /* allocation order, from the oldest region not yet retired */
  size_t first, n, cap;
  uint64_t *owner; /* per unit: token of the live region that holds it, or 0 */
  uint64_t *live;  /* tokens not yet released */
  size_t n_live;
} model;

static mspan *
model_at (model *m, size_t i)
{
  return &m->q[m->first + i];
}

/* Where the documented policy puts a region of alen bytes, or -1 for -ENOSPC. */
static int64_t
model_place (model *m, uint64_t alen)
{
  if (m->n == 0)
    return 0;
  uint64_t T = model_at (m, 0)->off;
  mspan *newest = model_at (m, m->n - 1);
  uint64_t H = newest->off + newest->alen;
  if (newest->off >= T) { /* one piece [T, H): room at [H, size), else at [0, T) */
    if (H + alen <= m->size)
      return (int64_t) H;
    return alen <= T ? 0 : -1;
  }
  /* wrapped: [T, ...) then [0, H): room at [H, T) only */
  return H + alen <= T ? (int64_t) H : -1;
}

static uint64_t
model_used (model *m)
{
  if (m->n == 0)
    return 0;
  uint64_t T = model_at (m, 0)->off;
  mspan *newest = model_at (m, m->n - 1);
  uint64_t H = newest->off + newest->alen;
  return newest->off >= T ? H - T : m->size - T + H;
}

static void
model_push (model *m, uint64_t token, uint64_t off, uint64_t alen)
{
  if (m->first + m->n == m->cap) {
    if (m->first > m->cap / 2) {
      memmove (m->q, m->q + m->first, m->n * sizeof *m->q);
      m->first = 0;
    } else {
      m->cap = m->cap ? m->cap * 2 : 64;
      m->q = realloc (m->q, m->cap * sizeof *m->q);
      CHECK (m->q != NULL);
    }
  }
  m->q[m->first + m->n++] = (mspan) { token, off, alen, 0 };
}

static void
run_random (rk_test_rng *rng, uint64_t size, uint64_t max_len, int ops, int alloc_pct)
{
  rk_arena a;
  model m = { .size = size };
  uint64_t units = size / U;
  uint64_t n_alloc = 0, n_nospc = 0, n_release = 0, max_live = 0;

  CHECK_EQ_I (rk_arena_init (&a, size), 0);
  m.owner = calloc (units, sizeof *m.owner);
  m.live = calloc ((size_t) ops + 1, sizeof *m.live);
  CHECK (m.owner && m.live);

  for (int op = 0; op < ops; op++) {
    if (m.n_live == 0 || (int) rk_test_below (rng, 100) < alloc_pct) {
      /* lengths: mostly small, sometimes up to max_len, sometimes unaligned */
      uint64_t len;
      switch (rk_test_below (rng, 4)) {
        case 0: len = rk_test_below (rng, max_len + 1); break;
        case 1: len = rk_test_below (rng, 3 * U); break;
        default: len = (1 + rk_test_below (rng, max_len / U)) * U; break;
      }
      if (len > size)
        len = size;
      uint64_t alen = len ? (len + U - 1) / U * U : U;
      int64_t want = model_place (&m, alen);
      uint64_t off = 0, tok = 0, used = rk_arena_used (&a);
      int r = rk_arena_alloc (&a, len, &off, &tok);
      if (want < 0) {
        CHECK_MSG (r == -ENOSPC, "op %d: alloc %" PRIu64 " gave %d (offset %" PRIu64
            "), the model says -ENOSPC", op, len, r, off);
        CHECK_EQ_U (rk_arena_used (&a), used);
        n_nospc++;
      } else {
        CHECK_MSG (r == 0, "op %d: alloc %" PRIu64 " gave %d, the model says offset %" PRId64
            " (used %" PRIu64 " of %" PRIu64 ")", op, len, r, want, used, size);
        CHECK_MSG (off == (uint64_t) want, "op %d: alloc %" PRIu64 " at %" PRIu64
            ", the model says %" PRId64, op, len, off, want);
        /* the ownership shadow: aligned, inside the arena, no unit already held by a live region */
        CHECK (tok != 0);
        CHECK_EQ_U (off % U, 0);
        CHECK_MSG (off + alen <= size, "region [%" PRIu64 ", %" PRIu64 ") wraps past %" PRIu64, off,
            off + alen, size);
        for (uint64_t u = off / U; u < (off + alen) / U; u++) {
          CHECK_MSG (m.owner[u] == 0, "op %d: unit %" PRIu64 " of new region %" PRIu64
              " is held by live region %" PRIu64, op, u, tok, m.owner[u]);
          m.owner[u] = tok;
        }
        for (size_t i = 0; i < m.n_live; i++)
          CHECK_MSG (m.live[i] != tok, "token %" PRIu64 " handed out twice", tok);
        model_push (&m, tok, off, alen);
        m.live[m.n_live++] = tok;
        n_alloc++;
        if (m.n_live > max_live)
          max_live = m.n_live;
      }
    } else {
      /* release a random live region (out of order) */
      size_t k = (size_t) rk_test_below (rng, m.n_live);
      uint64_t tok = m.live[k];
      m.live[k] = m.live[--m.n_live];
      CHECK_EQ_I (rk_arena_release (&a, tok), 0);
      mspan *s = NULL;
      for (size_t i = 0; i < m.n; i++)
        if (model_at (&m, i)->token == tok)
          s = model_at (&m, i);
      CHECK (s != NULL && !s->released);
      s->released = 1;
      for (uint64_t u = s->off / U; u < (s->off + s->alen) / U; u++) {
        CHECK_EQ_U (m.owner[u], tok);
        m.owner[u] = 0;
      }
      while (m.n && model_at (&m, 0)->released) {
        m.first++;
        m.n--;
      }
      while (m.n && model_at (&m, m.n - 1)->released) /* head goes back */
        m.n--;
      if (m.n == 0)
        m.first = 0;
      n_release++;
      if (rk_test_below (rng, 16) == 0)
        CHECK_EQ_I (rk_arena_release (&a, tok), -EINVAL); /* double release */
    }
    if (m.n_live) { /* room beside one live region, held alone: after its end, or before its start */
      const uint64_t tok = m.live[rk_test_below (rng, m.n_live)];
      const uint64_t len = rk_test_below (rng, size + 1);
      const uint64_t alen = len ? (len + U - 1) / U * U : U;
      for (size_t i = 0; i < m.n; i++) {
        const mspan *s = model_at (&m, i);
        if (s->token != tok)
          continue;
        const bool want = alen <= size && (s->off + s->alen + alen <= size || alen <= s->off);
        CHECK_MSG (rk_arena_fits_beside (&a, tok, len) == want, "op %d: %" PRIu64 " bytes beside [%" PRIu64
            ", %" PRIu64 "): the model says %d", op, len, s->off, s->off + s->alen, want);
      }
    }
    CHECK_MSG (rk_arena_used (&a) == model_used (&m), "op %d: used %" PRIu64 ", the model says %" PRIu64,
        op, rk_arena_used (&a), model_used (&m));
    CHECK (rk_arena_used (&a) <= size);
  }
  /* release everything: the arena is empty again */
  while (m.n_live) {
    CHECK_EQ_I (rk_arena_release (&a, m.live[--m.n_live]), 0);
  }
  CHECK_EQ_U (rk_arena_used (&a), 0);
  printf ("  size %7" PRIu64 ", len <= %7" PRIu64 ": %" PRIu64 " allocs, %" PRIu64 " -ENOSPC, %" PRIu64
      " releases, up to %" PRIu64 " live\n", size, max_len, n_alloc, n_nospc, n_release, max_live);
  free (m.q);
  free (m.owner);
  free (m.live);
  rk_arena_clear (&a);
}

int
main (void)
{
  rk_test_rng rng = { rk_test_seed ("test_arena") };

  test_init ();
  test_in_order ();
  test_out_of_order ();
  test_newest_back ();
  test_sizes ();
  test_no_wrap ();
  test_bad_release ();
  test_growth (&rng);

  SECTION ("randomized against the ownership map and the policy model");
  run_random (&rng, U, U, 20000, 50);                   /* one unit */
  run_random (&rng, 4 * U, 4 * U, 50000, 55);           /* tiny: constant skipping */
  run_random (&rng, 64 * 1024, 24 * 1024, 150000, 55);  /* large regions vs the arena */
  run_random (&rng, 256 * 1024, 2 * 1024, 150000, 60); /* many small live regions (table growth) */
  run_random (&rng, 1 << 20, 1 << 20, 30000, 50);       /* up to the whole arena */
  printf ("test_arena: all checks passed\n");
  return 0;
}
