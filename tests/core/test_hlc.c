/* gst-ringkernel: the hybrid logical clock (core/rk_hlc.[ch]).
 *
 * The pure send and receive rules case by case, the atomic clock operations against the pure rules,
 * logical counter overflow, the (stamp, node) total order, and two threads ticking and receiving each
 * other's stamps on one clock at once: every stamp handed out is unique and each thread's own stamps
 * strictly increase.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "rk_barrier.h"
#include "rk_hlc.h"
#include "rk_test.h"

#define MK(ms, c) rk_hlc_make ((ms), (c))

static void
test_word (void)
{
  SECTION ("word layout");
  CHECK_EQ_U (RK_HLC_LOGICAL_BITS, 16);
  CHECK_EQ_U (RK_HLC_LOGICAL_MASK, 0xffff);
  CHECK_EQ_U (MK (1, 0), 0x10000);
  CHECK_EQ_U (MK (0, 7), 7);
  CHECK_EQ_U (MK (0x123456789abcull, 0xfedc), 0x123456789abcfedcull);
  CHECK_EQ_U (rk_hlc_physical_ms (MK (1700000000000ull, 42)), 1700000000000ull);
  CHECK_EQ_U (rk_hlc_logical (MK (1700000000000ull, 42)), 42);
  CHECK_EQ_U (MK (4, 0x1ffff), MK (4, 0xffff)); /* the counter is masked, never spills on make */
  /* integer order is the clock's order: physical first, then logical */
  CHECK (MK (10, 0xffff) < MK (11, 0));
  CHECK (MK (10, 3) < MK (10, 4));

  rk_hlc c = { .word = 12345, .node = 0 };
  rk_hlc_init (&c, 77);
  CHECK_EQ_U (c.node, 77);
  CHECK_EQ_U (rk_hlc_peek (&c), 0);

  /* the physical source is CLOCK_REALTIME in ms */
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  uint64_t before = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
  uint64_t w = rk_hlc_wall_ms ();
  clock_gettime (CLOCK_REALTIME, &ts);
  uint64_t after = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
  CHECK (w >= before && w <= after);
  CHECK (w > 1600000000000ull); /* after 2020: a sane Unix-epoch value in ms */
  CHECK (w < (UINT64_C (1) << 48)); /* fits the 48-bit field */
}

static void
test_send_rule (void)
{
  SECTION ("send rule");
  /* physical time ahead of the clock: take it, logical restarts at 0 */
  CHECK_EQ_U (rk_hlc_next_send (MK (1000, 5), 2000), MK (2000, 0));
  CHECK_EQ_U (rk_hlc_next_send (MK (1000, 0xffff), 1001), MK (1001, 0));
  CHECK_EQ_U (rk_hlc_next_send (0, 1), MK (1, 0));
  /* physical time equal: counter + 1 */
  CHECK_EQ_U (rk_hlc_next_send (MK (1000, 5), 1000), MK (1000, 6));
  /* physical time behind (clock went back, or the clock ran ahead of it): counter + 1 */
  CHECK_EQ_U (rk_hlc_next_send (MK (1000, 5), 999), MK (1000, 6));
  CHECK_EQ_U (rk_hlc_next_send (MK (1000, 5), 0), MK (1000, 6));

  /* the atomic tick follows the same rule and stores its result */
  uint64_t word = MK (1000, 5);
  CHECK_EQ_U (rk_hlc_tick_at (&word, 2000), MK (2000, 0));
  CHECK_EQ_U (word, MK (2000, 0));
  CHECK_EQ_U (rk_hlc_tick_at (&word, 2000), MK (2000, 1));
  CHECK_EQ_U (rk_hlc_tick_at (&word, 1500), MK (2000, 2));
  CHECK_EQ_U (word, MK (2000, 2));
}

static void
test_recv_rule (void)
{
  SECTION ("receive rule");
  /* remote ahead of local, physical time between: the remote's counter + 1 */
  CHECK_EQ_U (rk_hlc_next_recv (MK (1000, 5), MK (1200, 3), 1100), MK (1200, 4));
  /* local ahead of remote, physical time behind: the local counter + 1 */
  CHECK_EQ_U (rk_hlc_next_recv (MK (1300, 7), MK (1200, 9), 1100), MK (1300, 8));
  /* equal physical parts: max (c, cm) + 1, whichever side has the larger counter */
  CHECK_EQ_U (rk_hlc_next_recv (MK (1000, 5), MK (1000, 9), 900), MK (1000, 10));
  CHECK_EQ_U (rk_hlc_next_recv (MK (1000, 12), MK (1000, 9), 900), MK (1000, 13));
  CHECK_EQ_U (rk_hlc_next_recv (MK (1000, 4), MK (1000, 4), 1000), MK (1000, 5));
  /* physical time ahead of both: take it, counter 0 */
  CHECK_EQ_U (rk_hlc_next_recv (MK (1000, 5), MK (1200, 3), 1500), MK (1500, 0));
  CHECK_EQ_U (rk_hlc_next_recv (MK (1300, 7), MK (1200, 9), 1301), MK (1301, 0));
  /* physical time equal to the larger one: that one's counter + 1 */
  CHECK_EQ_U (rk_hlc_next_recv (MK (1000, 5), MK (900, 1), 1000), MK (1000, 6));
  CHECK_EQ_U (rk_hlc_next_recv (MK (900, 5), MK (1000, 1), 1000), MK (1000, 2));
  /* a zero (unset) clock receiving */
  CHECK_EQ_U (rk_hlc_next_recv (0, MK (1000, 3), 10), MK (1000, 4));

  /* the atomic receive follows the same rule and stores its result */
  uint64_t word = MK (1000, 5);
  CHECK_EQ_U (rk_hlc_recv_at (&word, MK (1200, 3), 1100), MK (1200, 4));
  CHECK_EQ_U (word, MK (1200, 4));
  CHECK_EQ_U (rk_hlc_recv_at (&word, MK (1100, 60), 1100), MK (1200, 5));
  CHECK_EQ_U (rk_hlc_recv_at (&word, MK (1200, 60), 1100), MK (1200, 61));
  CHECK_EQ_U (rk_hlc_recv_at (&word, MK (10, 0), 1300), MK (1300, 0));
  CHECK_EQ_U (word, MK (1300, 0));
}

/* The pure rules on random inputs against the classic (l, c) formulation. */
static void
test_rules_random (rk_test_rng *rng)
{
  SECTION ("rules vs the classic (l, c) formulation, and serving a message, random");
  for (int i = 0; i < 200000; i++) {
    /* small ranges so that ties are frequent; counters below the overflow */
    uint64_t l = 1000 + rk_test_below (rng, 4), lm = 1000 + rk_test_below (rng, 4);
    uint64_t c = rk_test_below (rng, 5), cm = rk_test_below (rng, 5);
    uint64_t pt = 999 + rk_test_below (rng, 6);
    uint64_t t = MK (l, (uint32_t) c), m = MK (lm, (uint32_t) cm);

    /* send */
    uint64_t l2 = l > pt ? l : pt;
    uint64_t c2 = l2 == l ? c + 1 : 0;
    CHECK_EQ_U (rk_hlc_next_send (t, pt), MK (l2, (uint32_t) c2));

    /* receive */
    uint64_t lr = l > lm ? l : lm;
    lr = lr > pt ? lr : pt;
    uint64_t cr;
    if (lr == l && lr == lm)
      cr = (c > cm ? c : cm) + 1;
    else if (lr == l)
      cr = c + 1;
    else if (lr == lm)
      cr = cm + 1;
    else
      cr = 0;
    CHECK_MSG (rk_hlc_next_recv (t, m, pt) == MK (lr, (uint32_t) cr),
        "t=(%llu,%llu) m=(%llu,%llu) pt=%llu", (unsigned long long) l, (unsigned long long) c,
        (unsigned long long) lm, (unsigned long long) cm, (unsigned long long) pt);
    /* the result is after both inputs */
    CHECK (rk_hlc_next_recv (t, m, pt) > t);
    CHECK (rk_hlc_next_recv (t, m, pt) > m);

    /* serving a message: a receive (or, without a stamp, a local event) then a send */
    for (int k = 0; k < 2; k++) {
      uint64_t mk = k ? m : 0, served = rk_hlc_next_send (mk ? rk_hlc_next_recv (t, mk, pt)
                                                            : rk_hlc_next_send (t, pt), pt);
      uint64_t floor = rk_hlc_serve_floor (mk, pt);
      CHECK_EQ_U (served, floor > t + 2 ? floor : t + 2);
    }
  }
}

static void
test_overflow (void)
{
  SECTION ("logical counter overflow carries and stays monotonic");
  CHECK_EQ_U (rk_hlc_next_send (MK (1000, 0xffff), 1000), MK (1001, 0));
  CHECK_EQ_U (rk_hlc_next_send (MK (1000, 0xffff), 500), MK (1001, 0));
  /* a clock that carried is ahead of physical time: the counter keeps counting */
  CHECK_EQ_U (rk_hlc_next_send (MK (1001, 0), 1000), MK (1001, 1));
  CHECK_EQ_U (rk_hlc_next_recv (MK (1000, 0xffff), MK (999, 3), 1000), MK (1001, 0));
  CHECK_EQ_U (rk_hlc_next_recv (MK (999, 3), MK (1000, 0xffff), 1000), MK (1001, 0));
  CHECK_EQ_U (rk_hlc_next_recv (MK (1000, 0xffff), MK (1000, 0xffff), 1000), MK (1001, 0));

  /* 300000 ticks with physical time frozen: 4 carries, every stamp strictly greater */
  uint64_t word = 0, prev = 0;
  for (uint64_t k = 0; k < 300000; k++) {
    uint64_t t = rk_hlc_tick_at (&word, 1000);
    CHECK_GT_U (t, prev);
    CHECK_EQ_U (t, MK (1000, 0) + k);
    CHECK_EQ_U (rk_hlc_physical_ms (t), 1000 + (k >> 16));
    CHECK_EQ_U (rk_hlc_logical (t), k & 0xffff);
    prev = t;
  }
  /* physical time catches up with the carried clock: it takes over only once it is ahead */
  uint64_t pms = rk_hlc_physical_ms (word);
  CHECK_EQ_U (rk_hlc_tick_at (&word, pms), prev + 1);
  CHECK_EQ_U (rk_hlc_tick_at (&word, pms + 1), MK (pms + 1, 0));
}

static void
test_monotonic_ticks (void)
{
  SECTION ("monotonic under ticks (wall clock) and with physical time going backwards");
  rk_hlc c;
  rk_hlc_init (&c, 3);
  uint64_t prev = 0;
  uint64_t start_ms = rk_hlc_wall_ms ();
  for (int i = 0; i < 500000; i++) {
    uint64_t t = rk_hlc_tick (&c);
    CHECK_GT_U (t, prev);
    prev = t;
  }
  CHECK_EQ_U (rk_hlc_peek (&c), prev);
  CHECK (rk_hlc_physical_ms (prev) >= start_ms);
  /* not far ahead of real time: carries only happen past 65536 ticks in one ms */
  CHECK (rk_hlc_physical_ms (prev) <= rk_hlc_wall_ms () + 500000 / 65536 + 1);

  /* physical time jumping around, including backwards */
  rk_test_rng rng = { 99 };
  uint64_t word = 0;
  prev = 0;
  for (int i = 0; i < 200000; i++) {
    uint64_t pt = 5000 + rk_test_below (&rng, 100);
    uint64_t t = (i & 1) ? rk_hlc_tick_at (&word, pt)
                         : rk_hlc_recv_at (&word, MK (5000 + rk_test_below (&rng, 100), 7), pt);
    CHECK_GT_U (t, prev);
    CHECK (rk_hlc_physical_ms (t) >= pt);
    prev = t;
  }
}

static void
test_compare (void)
{
  SECTION ("rk_hlc_compare: stamp first, node breaks ties");
  CHECK_EQ_I (rk_hlc_compare (MK (10, 1), 1, MK (10, 2), 1), -1);
  CHECK_EQ_I (rk_hlc_compare (MK (10, 2), 1, MK (10, 1), 1), 1);
  CHECK_EQ_I (rk_hlc_compare (MK (10, 2), 1, MK (11, 0), 1), -1);
  /* tie on the stamp: the node decides */
  CHECK_EQ_I (rk_hlc_compare (MK (10, 1), 1, MK (10, 1), 2), -1);
  CHECK_EQ_I (rk_hlc_compare (MK (10, 1), 2, MK (10, 1), 1), 1);
  CHECK_EQ_I (rk_hlc_compare (MK (10, 1), 0, MK (10, 1), UINT32_MAX), -1);
  CHECK_EQ_I (rk_hlc_compare (MK (10, 1), 7, MK (10, 1), 7), 0);
  /* the stamp dominates the node */
  CHECK_EQ_I (rk_hlc_compare (MK (10, 1), 9, MK (10, 2), 1), -1);
  CHECK_EQ_I (rk_hlc_compare (MK (10, 2), 1, MK (10, 1), 9), 1);
  CHECK_EQ_I (rk_hlc_compare (UINT64_MAX, 0, 0, UINT32_MAX), 1);
  /* antisymmetric on random pairs */
  rk_test_rng rng = { 5 };
  for (int i = 0; i < 10000; i++) {
    uint64_t a = rk_test_below (&rng, 4), b = rk_test_below (&rng, 4);
    uint32_t na = (uint32_t) rk_test_below (&rng, 3), nb = (uint32_t) rk_test_below (&rng, 3);
    CHECK_EQ_I (rk_hlc_compare (a, na, b, nb), -rk_hlc_compare (b, nb, a, na));
    CHECK_EQ_I (rk_hlc_compare (a, na, b, nb) == 0, a == b && na == nb);
  }
}

/* ---- two threads on one clock ---- */

#define CONC_OPS 1000000

typedef struct conc_thread {
  rk_hlc *clock;
  _Atomic uint64_t *mine;         /* the latest stamp this thread made, for the other to receive */
  _Atomic uint64_t *theirs;       /* the other thread's latest stamp */
  _Atomic int *go;
  uint64_t *stamps;               /* CONC_OPS results */
  uint64_t received_nonzero;
} conc_thread;

static void *
conc_main (void *arg)
{
  conc_thread *t = arg;
  while (!atomic_load_explicit (t->go, memory_order_acquire))
    ;
  for (int i = 0; i < CONC_OPS; i++) {
    uint64_t s;
    if (i & 1) {
      uint64_t m = atomic_load_explicit (t->theirs, memory_order_acquire);
      t->received_nonzero += m != 0;
      s = rk_hlc_recv (t->clock, m);
      /* a received stamp is after the message */
      if (s <= m)
        RK_FAIL ("receive of %" PRIu64 " gave %" PRIu64, m, s);
    } else {
      s = rk_hlc_tick (t->clock);
    }
    t->stamps[i] = s;
    atomic_store_explicit (t->mine, s, memory_order_release);
  }
  return NULL;
}

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

static void
test_concurrent (void)
{
  SECTION ("two threads ticking and receiving on one clock, 1 M operations each");
  rk_hlc clock;
  _Atomic uint64_t latest[2] = { 0, 0 };
  _Atomic int go = 0;
  uint64_t *all = malloc (2 * (size_t) CONC_OPS * sizeof *all);
  CHECK (all != NULL);
  conc_thread th[2];
  pthread_t tid[2];

  rk_hlc_init (&clock, 1);
  uint64_t start_ms = rk_hlc_wall_ms ();
  for (int k = 0; k < 2; k++) {
    th[k] = (conc_thread) {
      .clock = &clock,
      .mine = &latest[k],
      .theirs = &latest[1 - k],
      .go = &go,
      .stamps = all + (size_t) k * CONC_OPS,
    };
    CHECK_EQ_I (pthread_create (&tid[k], NULL, conc_main, &th[k]), 0);
  }
  double t0 = rk_test_now_s ();
  atomic_store_explicit (&go, 1, memory_order_release);
  for (int k = 0; k < 2; k++)
    CHECK_EQ_I (pthread_join (tid[k], NULL), 0);
  double dt = rk_test_now_s () - t0;

  for (int k = 0; k < 2; k++) {
    const uint64_t *s = th[k].stamps;
    CHECK (s[0] > 0);
    CHECK (rk_hlc_physical_ms (s[0]) >= start_ms);
    for (int i = 1; i < CONC_OPS; i++)
      CHECK_MSG (s[i] > s[i - 1], "thread %d: stamp %d (%" PRIu64 ") not after %" PRIu64, k, i, s[i],
          s[i - 1]);
  }
  uint64_t last = rk_hlc_peek (&clock);
  CHECK (last == th[0].stamps[CONC_OPS - 1] || last == th[1].stamps[CONC_OPS - 1]);

  /* tag each stamp with its thread (stamps are far below 2^63: 48-bit ms field of a 2020s clock) */
  for (int k = 0; k < 2; k++)
    for (size_t i = 0; i < CONC_OPS; i++) {
      uint64_t *p = &all[(size_t) k * CONC_OPS + i];
      CHECK (*p < (UINT64_C (1) << 63));
      *p = *p << 1 | (uint64_t) k;
    }
  qsort (all, 2 * (size_t) CONC_OPS, sizeof *all, cmp_u64);
  uint64_t switches = 0;
  for (size_t i = 1; i < 2 * (size_t) CONC_OPS; i++) {
    CHECK_MSG (all[i] >> 1 != all[i - 1] >> 1, "stamp %" PRIu64 " handed out twice", all[i] >> 1);
    switches += (all[i] & 1) != (all[i - 1] & 1);
  }
  CHECK_EQ_U (all[2 * (size_t) CONC_OPS - 1] >> 1, last);
  printf ("concurrent: %d operations in %.3f s (%.1f M/s); the threads' stamps interleave %" PRIu64
      " times; receives of a real stamp: %" PRIu64 " + %" PRIu64 "\n", 2 * CONC_OPS, dt,
      2 * CONC_OPS / dt / 1e6, switches, th[0].received_nonzero, th[1].received_nonzero);
  free (all);
}

int
main (void)
{
  rk_test_rng rng = { rk_test_seed ("test_hlc") };

  test_word ();
  test_send_rule ();
  test_recv_rule ();
  test_rules_random (&rng);
  test_overflow ();
  test_monotonic_ticks ();
  test_compare ();
  test_concurrent ();
  printf ("test_hlc: all checks passed\n");
  return 0;
}
