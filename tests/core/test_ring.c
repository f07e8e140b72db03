/* gst-ringkernel: SPSC ring invariants (core/rk_ring.h).
 *
 * Small rings (2, 4, 8 entries) against a FIFO model: counts, full and empty, wrap-around, indices that
 * start just below UINT64_MAX and wrap through zero, the batch API, and refusal of sizes that are not
 * powers of two. Then a two-thread producer/consumer stress of 10 M records through a ring of 1024
 * whose indices also wrap through zero: each record arrives exactly once, in order, and untorn.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "rk_link.h"
#include "rk_ring.h"
#include "rk_test.h"
#include "rk_wait.h"

/* Every field of a test record is derived from its sequence number; the last word is a checksum of the
 * rest, so a torn record (half old, half new) is caught. */
static uint64_t
mix (uint64_t x)
{
  x ^= x >> 33;
  x *= UINT64_C (0xff51afd7ed558ccd);
  x ^= x >> 33;
  x *= UINT64_C (0xc4ceb9fe1a85ec53);
  x ^= x >> 33;
  return x;
}

static uint64_t
record_sum (const rk_record *r)
{
  uint64_t w[8];
  memcpy (w, r, sizeof w);
  uint64_t s = 0;
  for (int i = 0; i < 7; i++)
    s = mix (s ^ w[i]) + (uint64_t) i;
  return s;
}

static void
make_record (rk_record *r, uint64_t seq)
{
  uint64_t h = mix (seq);
  r->type = (uint16_t) seq;
  r->flags = (uint16_t) (h >> 48);
  r->len = (uint32_t) h;
  r->seq = seq;
  r->hlc = ~seq;
  r->node = (uint32_t) (h >> 16);
  r->status = (uint32_t) (seq >> 7);
  uint64_t w[4] = { h, seq * 3, h ^ seq, 0 };
  memcpy (r->u.bytes, w, sizeof w);
  uint64_t sum = record_sum (r);
  memcpy (r->u.bytes + 24, &sum, sizeof sum);
}

/* 0 when the record is the one for seq, untorn. */
static int
record_bad (const rk_record *r, uint64_t seq)
{
  rk_record want;
  make_record (&want, seq);
  return memcmp (r, &want, sizeof want) != 0;
}

static rk_ring *
new_ring (uint32_t entries, uint64_t start)
{
  rk_ring *r = rk_test_alloc_lines (RK_RING_BYTES (entries));
  CHECK (r != NULL);
  memset (r, 0xee, RK_RING_BYTES (entries));
  CHECK_EQ_I (rk_ring_init (r, entries, start), 0);
  CHECK_EQ_U (r->head, start);
  CHECK_EQ_U (r->tail, start);
  CHECK_EQ_U (r->entries, entries);
  CHECK_EQ_U (r->mask, entries - 1);
  return r;
}

static void
check_counts (rk_ring *r, uint32_t expect_used)
{
  CHECK_EQ_U (rk_ring_avail (r), expect_used);
  CHECK_EQ_U (rk_ring_free (r), r->entries - expect_used);
  CHECK_EQ_U (r->head - r->tail, expect_used);
}

static void
test_init_refuses (void)
{
  static const uint32_t bad[] = { 0, 3, 5, 6, 7, 12, 24, 100, 1000, 0x80000001u, 0xffffffffu };
  static const uint32_t good[] = { 1, 2, 4, 8, 16, 1024, 65536 };
  uint8_t buf[RK_RING_BYTES (8)];

  SECTION ("rk_ring_init refuses sizes that are not powers of two");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset (buf, 0x5a, sizeof buf);
    CHECK_MSG (rk_ring_init (buf, bad[i], 0) == -1, "entries %u accepted", bad[i]);
    /* a refused size writes nothing (it might be larger than the memory passed) */
    for (size_t j = 0; j < sizeof buf; j++)
      CHECK_EQ_U (buf[j], 0x5a);
  }
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    rk_ring *r = rk_test_alloc_lines (RK_RING_BYTES (good[i]));
    CHECK (r != NULL);
    CHECK_MSG (rk_ring_init (r, good[i], 0) == 0, "entries %u refused", good[i]);
    free (r);
  }
  CHECK (!rk_is_pow2 (0));
  CHECK (rk_is_pow2 (1));
  CHECK (rk_is_pow2 (UINT64_C (1) << 63));
  CHECK (!rk_is_pow2 ((UINT64_C (1) << 63) + 1));
  CHECK (!rk_is_pow2 (UINT64_MAX));
}

/* Fill, overfill, drain, overdrain. */
static void
test_full_empty (uint32_t entries, uint64_t start)
{
  rk_ring *r = new_ring (entries, start);
  rk_record rec, out;
  uint64_t seq = 0;

  check_counts (r, 0);
  memset (&out, 0x77, sizeof out);
  CHECK (!rk_ring_pop (r, &out));
  CHECK_EQ_U (out.seq, UINT64_C (0x7777777777777777)); /* untouched */
  check_counts (r, 0);

  for (uint32_t i = 0; i < entries; i++) {
    /* the producer's slot is the one at head & mask */
    CHECK (rk_ring_prod_slot (r, 0) == &rk_ring_slots (r)[r->head & r->mask]);
    make_record (&rec, seq++);
    CHECK (rk_ring_push (r, &rec));
    check_counts (r, i + 1);
  }
  make_record (&rec, 999999);
  uint64_t head = r->head;
  CHECK (!rk_ring_push (r, &rec)); /* full */
  CHECK (!rk_ring_push (r, &rec));
  CHECK_EQ_U (r->head, head);
  check_counts (r, entries);

  for (uint32_t i = 0; i < entries; i++) {
    CHECK (rk_ring_cons_slot (r, 0) == &rk_ring_slots (r)[r->tail & r->mask]);
    CHECK (rk_ring_pop (r, &out));
    CHECK (!record_bad (&out, i));
    check_counts (r, entries - i - 1);
  }
  CHECK (!rk_ring_pop (r, &out));
  check_counts (r, 0);
  CHECK_EQ_U (r->head, start + entries);
  CHECK_EQ_U (r->tail, start + entries);
  free (r);
}

/* Random pushes and pops against a FIFO model, many times around the ring. */
static void
test_model (uint32_t entries, uint64_t start, rk_test_rng *rng)
{
  rk_ring *r = new_ring (entries, start);
  uint64_t next_push = 0, next_pop = 0;
  rk_record rec, out;

  for (int step = 0; step < 20000; step++) {
    uint32_t used = (uint32_t) (next_push - next_pop);
    check_counts (r, used);
    switch (rk_test_below (rng, 4)) {
      case 0:
      case 1: /* push one */
        make_record (&rec, next_push);
        if (used == entries) {
          CHECK (!rk_ring_push (r, &rec));
        } else {
          CHECK (rk_ring_push (r, &rec));
          next_push++;
        }
        break;
      case 2: /* pop one */
        if (used == 0) {
          CHECK (!rk_ring_pop (r, &out));
        } else {
          CHECK (rk_ring_pop (r, &out));
          CHECK_MSG (!record_bad (&out, next_pop), "record %" PRIu64 " wrong", next_pop);
          next_pop++;
        }
        break;
      case 3: { /* batch: write k slots and publish them at once, or read k and release them */
        uint32_t k;
        if (rk_test_below (rng, 2)) {
          uint32_t room = rk_ring_free (r);
          k = room ? (uint32_t) rk_test_below (rng, room + 1) : 0;
          for (uint32_t i = 0; i < k; i++)
            make_record (rk_ring_prod_slot (r, i), next_push + i);
          /* not visible before publish */
          CHECK_EQ_U (rk_ring_avail (r), used);
          rk_ring_publish (r, k);
          next_push += k;
        } else {
          uint32_t avail = rk_ring_avail (r);
          k = avail ? (uint32_t) rk_test_below (rng, avail + 1) : 0;
          for (uint32_t i = 0; i < k; i++)
            CHECK (!record_bad (rk_ring_cons_slot (r, i), next_pop + i));
          CHECK_EQ_U (rk_ring_free (r), entries - used); /* not free before release */
          rk_ring_release (r, k);
          next_pop += k;
        }
        break;
      }
    }
    CHECK_EQ_U (r->head, start + next_push);
    CHECK_EQ_U (r->tail, start + next_pop);
  }
  CHECK (next_push > 10u * entries); /* went around many times */
  free (r);
}

/* Indices start just below UINT64_MAX and wrap through zero. */
static void
test_wrap_near_max (uint32_t entries)
{
  const uint64_t start = UINT64_MAX - 5;
  rk_ring *r = new_ring (entries, start);
  rk_record rec, out;
  uint64_t pushed = 0, popped = 0;

  /* 4 full cycles: fill, check, drain; the indices cross 2^64 during the first or second */
  for (int cycle = 0; cycle < 4; cycle++) {
    for (uint32_t i = 0; i < entries; i++) {
      make_record (&rec, pushed++);
      CHECK (rk_ring_push (r, &rec));
    }
    CHECK (!rk_ring_push (r, &rec));
    check_counts (r, entries);
    for (uint32_t i = 0; i < entries; i++) {
      CHECK (rk_ring_pop (r, &out));
      CHECK (!record_bad (&out, popped++));
    }
    CHECK (!rk_ring_pop (r, &out));
    check_counts (r, 0);
  }
  CHECK_EQ_U (r->head, start + pushed); /* wrapped */
  CHECK (r->head < start);
  CHECK_EQ_U (r->head, 4u * entries - 6);

  /* straddle the wrap while partly full: head past zero, tail not yet */
  free (r);
  r = new_ring (entries, UINT64_MAX - (entries / 2) + 1);
  pushed = popped = 0;
  for (uint32_t i = 0; i < entries; i++) {
    make_record (&rec, pushed++);
    CHECK (rk_ring_push (r, &rec));
  }
  CHECK (r->head < r->tail); /* numerically, after the wrap */
  check_counts (r, entries);
  CHECK (!rk_ring_push (r, &rec));
  for (uint32_t i = 0; i < entries; i++) {
    CHECK (rk_ring_pop (r, &out));
    CHECK (!record_bad (&out, popped++));
    check_counts (r, entries - i - 1);
  }
  free (r);
}

/* ---- two-thread stress ---- */

#define STRESS_RECORDS UINT64_C (10000000)
#define STRESS_ENTRIES 1024

typedef struct stress {
  rk_ring *ring;
  uint64_t n;
  uint64_t producer_full_waits;
  uint64_t consumer_empty_waits;
} stress;

static void
backoff (unsigned *spins)
{
  if (++*spins < 64) {
    rk_cpu_relax ();
  } else {
    *spins = 0;
    sched_yield (); /* two cores, other threads: let the other side run */
  }
}

static void *
producer (void *arg)
{
  stress *s = arg;
  rk_ring *r = s->ring;
  for (uint64_t seq = 0; seq < s->n;) {
    uint32_t room = rk_ring_free (r);
    if (room == 0) {
      unsigned spins = 0;
      while ((room = rk_ring_free (r)) == 0)
        backoff (&spins);
      s->producer_full_waits++;
    }
    /* alternate single pushes and small batches so both publish paths run under contention */
    if (seq & 1024) {
      rk_record rec;
      make_record (&rec, seq);
      CHECK (rk_ring_push (r, &rec));
      seq++;
    } else {
      uint32_t k = room < 16 ? room : 16;
      if (k > s->n - seq)
        k = (uint32_t) (s->n - seq);
      for (uint32_t i = 0; i < k; i++)
        make_record (rk_ring_prod_slot (r, i), seq + i);
      rk_ring_publish (r, k);
      seq += k;
    }
  }
  return NULL;
}

static void *
consumer (void *arg)
{
  stress *s = arg;
  rk_ring *r = s->ring;
  rk_record out;
  for (uint64_t seq = 0; seq < s->n;) {
    uint32_t avail = rk_ring_avail (r);
    if (avail == 0) {
      unsigned spins = 0;
      while ((avail = rk_ring_avail (r)) == 0)
        backoff (&spins);
      s->consumer_empty_waits++;
    }
    if (seq & 2048) {
      CHECK (rk_ring_pop (r, &out));
      CHECK_MSG (!record_bad (&out, seq), "record %" PRIu64 " arrived as seq %" PRIu64 " (torn or out of order)",
          seq, out.seq);
      seq++;
    } else {
      for (uint32_t i = 0; i < avail; i++) {
        const rk_record *p = rk_ring_cons_slot (r, i);
        CHECK_MSG (!record_bad (p, seq + i), "record %" PRIu64 " arrived as seq %" PRIu64
            " (torn or out of order)", seq + i, p->seq);
      }
      rk_ring_release (r, avail);
      seq += avail;
    }
  }
  return NULL;
}

static void
test_stress (void)
{
  SECTION ("two-thread stress, ring of 1024, indices wrapping");
  stress s = {
    /* start so that the indices cross 2^64 a third of the way through */
    .ring = new_ring (STRESS_ENTRIES, UINT64_MAX - STRESS_RECORDS / 3),
    .n = STRESS_RECORDS,
  };
  pthread_t pt, ct;
  double t0 = rk_test_now_s ();
  CHECK_EQ_I (pthread_create (&ct, NULL, consumer, &s), 0);
  CHECK_EQ_I (pthread_create (&pt, NULL, producer, &s), 0);
  CHECK_EQ_I (pthread_join (pt, NULL), 0);
  CHECK_EQ_I (pthread_join (ct, NULL), 0);
  double dt = rk_test_now_s () - t0;
  CHECK_EQ_U (s.ring->head - s.ring->tail, 0);
  CHECK_EQ_U (s.ring->head, UINT64_MAX - STRESS_RECORDS / 3 + STRESS_RECORDS);
  CHECK (s.ring->head < STRESS_RECORDS); /* wrapped */
  printf ("stress: %" PRIu64 " records in %.3f s: %.2f M records/s (producer waited %" PRIu64
      " times, consumer %" PRIu64 ")\n", s.n, dt, (double) s.n / dt / 1e6, s.producer_full_waits,
      s.consumer_empty_waits);
  free (s.ring);
}

/* rk_link_place () against a model: payloads placed in order, freed in order, never overlapping, and
 * refused only when no placement the rule allows could fit. */
static void
test_link_place (rk_test_rng *rng)
{
  enum { SIZE = 16 * RK_LINK_ALIGN, MAXQ = 64 };
  SECTION ("link placement: an arena used as a ring of bytes");
  uint64_t off[MAXQ], span[MAXQ];
  unsigned q0 = 0, qn = 0; /* live payloads, oldest first */
  uint64_t pos = 0, placed = 0, refused = 0;
  uint8_t used[SIZE / RK_LINK_ALIGN];

  CHECK_EQ_U (rk_link_span (0), RK_LINK_ALIGN); /* an empty payload takes room too */
  CHECK_EQ_U (rk_link_span (1), RK_LINK_ALIGN);
  CHECK_EQ_U (rk_link_span (RK_LINK_ALIGN), RK_LINK_ALIGN);
  uint64_t o;
  CHECK (!rk_link_place (0, 0, true, SIZE, SIZE + 1, &o));
  CHECK (rk_link_place (5 * RK_LINK_ALIGN, 0, true, SIZE, SIZE, &o) && o == 0);
  for (int it = 0; it < 200000; it++) {
    if (qn && (qn == MAXQ || rk_test_below (rng, 2))) { /* the consumer frees the oldest */
      q0 = (q0 + 1) % MAXQ;
      qn--;
      continue;
    }
    uint64_t len = rk_test_below (rng, 5) == 0 ? 0 : rk_test_below (rng, SIZE / 3);
    uint64_t oldest = qn ? off[q0] : 0;
    /* the bytes the live payloads take */
    memset (used, 0, sizeof used);
    for (unsigned k = 0; k < qn; k++) {
      unsigned i = (q0 + k) % MAXQ;
      for (uint64_t b = off[i] / RK_LINK_ALIGN; b < (off[i] + span[i]) / RK_LINK_ALIGN; b++)
        used[b] = 1;
    }
    if (!rk_link_place (pos, oldest, qn == 0, SIZE, len, &o)) {
      refused++;
      /* refused: neither after pos nor at 0 is there room (room after pos ends before the oldest
       * payload when the bytes in use wrap, and room at 0 overlaps the newest then) */
      CHECK (qn > 0);
      const uint64_t need = rk_link_span (len) / RK_LINK_ALIGN, p = pos / RK_LINK_ALIGN;
      bool after = p + need <= SIZE / RK_LINK_ALIGN, at0 = true;
      for (uint64_t b = 0; b < need; b++) {
        after = after && !used[p + b];
        at0 = at0 && !used[b];
      }
      CHECK_MSG (!after && !at0, "%" PRIu64 " bytes refused at %" PRIu64 " (oldest %" PRIu64
          ", %u live) where there was room", len, pos, oldest, qn);
      continue;
    }
    CHECK (o % RK_LINK_ALIGN == 0 && o + rk_link_span (len) <= SIZE);
    /* no overlap with any live payload */
    for (uint64_t b = o / RK_LINK_ALIGN; b < (o + rk_link_span (len)) / RK_LINK_ALIGN; b++)
      CHECK_MSG (!used[b], "payload at %" PRIu64 " (+%" PRIu64 ") overlaps a live one", o, len);
    unsigned i = (q0 + qn) % MAXQ;
    off[i] = o;
    span[i] = rk_link_span (len);
    qn++;
    pos = o + span[i];
    placed++;
  }
  CHECK (placed > 50000 && refused > 1000);
  printf ("link placement: %" PRIu64 " placed, %" PRIu64 " refused\n", placed, refused);
}

int
main (void)
{
  static const uint32_t sizes[] = { 2, 4, 8 };
  rk_test_rng rng = { rk_test_seed ("test_ring") };

  test_init_refuses ();
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    uint32_t n = sizes[i];
    char name[64];
    snprintf (name, sizeof name, "ring of %u: full, empty, model, wrap near UINT64_MAX", n);
    SECTION (name);
    test_full_empty (n, 0);
    test_full_empty (n, UINT64_MAX - 5);
    test_full_empty (n, UINT64_MAX);
    test_model (n, 0, &rng);
    test_model (n, UINT64_MAX - 5, &rng);
    test_wrap_near_max (n);
  }
  test_link_place (&rng);
  test_stress ();
  printf ("test_ring: all checks passed\n");
  return 0;
}
