/* bench-ring: the actor's rings without GStreamer, every backend and mode present, in one run.
 *
 *   bench-ring [--quick]
 *
 * For each of cpu, cuda (persistent kernel) and cuda-launch (one kernel launch and synchronisation per
 * record, the traditional way):
 *   - round trip of one record (submit, wait for the answer) through an echo actor: 32 bytes inline in
 *     the record, 64 bytes and 4 KiB through the arenas; min, median, p99 in microseconds;
 *   - streaming: one thread submits while another receives, for 64 B, 64 KiB, 1 MiB and 8 MiB payloads;
 *     records per second and GB/s of payload into the actor; "copy" copies each payload into the
 *     input arena (rk_actor_submit), "zero-copy" submits payloads that a producer wrote straight into
 *     the arena (rk_actor_reserve_input; the benchmark writes them once, not for every record);
 *   - K2K: chains of 1, 2, 4 and 8 echo actors linked on the device (cpu and cuda): round trip, and what
 *     each hop adds, once with every actor's record submitted before the data reaches it (the hops
 *     alone), once with the records submitted in chain order 1.5 us apart, as a GStreamer chain's
 *     chain functions hand them on (most actors then get their record after their data);
 *   - a parameter change on a scale actor: what submitting it costs the host, and when the actor applied
 *     it, read from the actor-side timestamp of its answer (the actor clock's offset from the host's is
 *     calibrated by round trips, so the figure is good to about half a round trip).
 * Ratios against cuda-launch are printed for the round trips. Nothing here is asserted: it measures.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk_actor.h"
#include "rk_barrier.h"
#include "rk_backend.h"
#include "rk_handlers.h"
#include "rk_wait.h"

typedef struct {
  const char *label;
  rk_backend_kind kind;
  rk_actor_mode mode;
  const rk_backend_ops *ops;
  double rt_median[3];
} Config;

static int quick;

/* What a chain function costs the host through GStreamer (docs/benchmarks.md): the gap between the
 * submissions of consecutive actors of a chain in chain order. */
#define HOP_GAP_NS 1500

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

static rk_actor *
start (const Config *c, const char *kernel, uint32_t entries, uint64_t arena)
{
  rk_actor_config cfg = {
    .backend = c->ops,
    .handler = rk_handler_find (kernel),
    .mode = c->mode,
    .ring_entries = entries,
    .in_arena_size = arena,
    .out_arena_size = arena,
    .node = 1,
  };
  char why[512];
  rk_actor *a = NULL;
  int r = rk_actor_new (&cfg, &a, why, sizeof why);
  if (r < 0) {
    fprintf (stderr, "%s: cannot start: %s\n", c->label, why);
    return NULL;
  }
  return a;
}

static void
stop (rk_actor *a)
{
  rk_actor_stop (a, 5000000000ll);
  rk_actor_unref (a);
}

/* One record there and back; returns ns, or 0 on error. */
static uint64_t
round_trip (rk_actor *a, const uint8_t *payload, uint32_t len, rk_answer *ans)
{
  rk_record rec = { .type = RK_CMD_PROCESS };
  uint64_t t0 = rk_now_ns ();
  if (rk_actor_submit (a, &rec, payload, len, len, -1) < 0)
    return 0;
  if (rk_actor_receive (a, ans, 10000000000ll) < 0)
    return 0;
  uint64_t t1 = rk_now_ns ();
  rk_actor_release_output (a, ans->out_token);
  return t1 - t0;
}

static void
bench_round_trips (Config *c)
{
  static const uint32_t sizes[3] = { 32, 64, 4096 };
  const int iters = quick ? 2000 : 20000, warm = 500;
  uint8_t payload[4096];
  uint64_t *t = calloc (iters, sizeof *t);
  rk_answer ans;

  for (size_t i = 0; i < sizeof payload; i++)
    payload[i] = (uint8_t) i;
  rk_actor *a = start (c, "echo", 64, 1 << 20);
  if (!a)
    goto out;
  for (int s = 0; s < 3; s++) {
    int bad = 0;
    for (int i = 0; i < warm; i++)
      round_trip (a, payload, sizes[s], &ans);
    for (int i = 0; i < iters; i++) {
      t[i] = round_trip (a, payload, sizes[s], &ans);
      bad |= t[i] == 0 || memcmp (rk_answer_data (&ans), payload, sizes[s]) != 0;
    }
    qsort (t, iters, sizeof *t, cmp_u64);
    c->rt_median[s] = t[iters / 2] / 1e3;
    printf ("| %-12s | round trip %5u B | %8.2f | %8.2f | %8.2f |%s\n", c->label, sizes[s], t[0] / 1e3,
        t[iters / 2] / 1e3, t[iters * 99 / 100] / 1e3, bad ? " WRONG OUTPUT" : "");
  }
  const rk_control *ctl = rk_actor_control (a);
  if (ctl->h2k_fast || ctl->k2h_fast) /* the rings' low-latency mirrors, where the backend has them */
    printf ("| %-12s | round trips: of %llu, %llu records taken from the H2K ring's mirror, %llu answers "
            "from the K2H ring's |\n",
        c->label, (unsigned long long) ctl->records_in, (unsigned long long) ctl->h2k_fast,
        (unsigned long long) ctl->k2h_fast);
  stop (a);
out:
  free (t);
}

/* K2K hops without GStreamer: chains of 1, 2, 4 and 8 echo actors linked on the device, one record
 * through the whole chain at a time. With gap_ns 0, every actor's record is submitted before the first
 * actor's (from the last to the first), so each one already waits on its inbox when the data comes:
 * what is timed, from the submission to the first actor to the last actor's answer, is the hops
 * themselves, not the host's submissions. Otherwise the records go in chain order, gap_ns apart, as
 * the chain functions of a GStreamer chain submit them (each after the token from upstream came), so
 * most actors get their record after their data. Prints the round trip of each chain and what each
 * hop adds. */
static void
bench_hops (Config *c, uint64_t gap_ns)
{
  static const int lens[4] = { 1, 2, 4, 8 };
  static const uint32_t sizes[2] = { 64, 4096 };
  const int iters = quick ? 2000 : 20000, warm = 500;
  uint64_t *t = calloc (iters, sizeof *t);
  double med[4][2] = { { 0 } };
  uint8_t payload[4096];
  char order[48] = "";

  if (gap_ns)
    snprintf (order, sizeof order, ", records in order %.1f us apart", gap_ns / 1e3);
  for (size_t i = 0; i < sizeof payload; i++)
    payload[i] = (uint8_t) (i * 7);
  for (int k = 0; k < 4; k++) {
    const int n = lens[k];
    rk_actor *a[8] = { NULL };
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
      rk_actor_config cfg = {
        .backend = c->ops, .handler = rk_handler_find ("echo"), .mode = c->mode, .ring_entries = 64,
        .in_arena_size = 1 << 20, .out_arena_size = 1 << 20, .node = 1, .inbox_arena_size = 1 << 20,
      };
      char why[512];
      if (rk_actor_new (&cfg, &a[i], why, sizeof why) < 0) {
        fprintf (stderr, "%s: cannot start: %s\n", c->label, why);
        ok = false;
      }
    }
    for (int i = 0; ok && i + 1 < n; i++) {
      rk_route rt;
      rk_record rec = { 0 };
      rk_answer ans;
      char why[256];
      ok = rk_actor_link_path (a[i], a[i + 1], false, why, sizeof why) == RK_LINK_DEVICE
          && rk_actor_inbox_route (a[i + 1], RK_LINK_DEVICE, (uint32_t) i + 1, &rt)
          && rk_actor_submit_link (a[i], &rec, &rt, -1) == 0 && rk_actor_receive (a[i], &ans, -1) == 0
          && ans.rec.status == RK_STATUS_OK;
    }
    if (!ok)
      printf ("| %-12s | chain of %d | FAILED: could not start and link it |\n", c->label, n);
    uint64_t seq = 1;
    for (int s = 0; ok && s < 2; s++) {
      bool bad = false;
      for (int it = -warm; it < iters && !bad; it++, seq++) {
        uint64_t t0 = 0;
        for (int j = 0; j < n && !bad; j++) {
          const int i = gap_ns ? j : n - 1 - j;
          rk_record rec = { .type = RK_CMD_PROCESS };
          if (gap_ns && i > 0)
            for (uint64_t due = t0 + (uint64_t) i * gap_ns; rk_now_ns () < due;)
              rk_cpu_relax ();
          if (i == 0)
            t0 = rk_now_ns (); /* the others' records are in (or come gap_ns apart from now on) */
          rec.flags = (i > 0 ? RK_REC_F_FROM_INBOX : 0) | (i + 1 < n ? RK_REC_F_TO_ROUTE : 0);
          rec.u.desc.in_off = rec.u.desc.out_off = seq;
          bad = rk_actor_submit (a[i], &rec, i > 0 ? NULL : payload, sizes[s], i + 1 < n ? 0 : sizes[s], -1) < 0;
        }
        rk_answer ans;
        if (bad || rk_actor_receive (a[n - 1], &ans, 10000000000ll) < 0) {
          bad = true;
          break;
        }
        uint64_t t1 = rk_now_ns ();
        bad = ans.rec.status != RK_STATUS_OK || ans.rec.len != sizes[s]
            || memcmp (rk_answer_data (&ans), payload, sizes[s]) != 0;
        rk_actor_release_output (a[n - 1], ans.out_token);
        for (int i = 0; i + 1 < n && !bad; i++) { /* the forwarding answers */
          if (rk_actor_receive (a[i], &ans, 10000000000ll) < 0) {
            bad = true;
            break;
          }
          bad = ans.rec.status != RK_STATUS_OK;
          rk_actor_release_output (a[i], ans.out_token);
        }
        if (it >= 0)
          t[it] = t1 - t0;
      }
      if (bad) {
        printf ("| %-12s | chain of %d, %4u B | FAILED |\n", c->label, n, sizes[s]);
        ok = false;
        break;
      }
      qsort (t, iters, sizeof *t, cmp_u64);
      med[k][s] = t[iters / 2] / 1e3;
      printf ("| %-12s | chain of %d, %4u B%s | %8.2f | %8.2f | %8.2f |\n", c->label, n, sizes[s], order,
          t[0] / 1e3, t[iters / 2] / 1e3, t[iters * 99 / 100] / 1e3);
    }
    uint64_t routed = 0, fast = 0; /* how the consumers took their records */
    for (int i = 0; i < n; i++)
      if (a[i]) {
        routed += rk_actor_control (a[i])->routed_in;
        fast += rk_actor_control (a[i])->fast_in;
      }
    if (ok && n > 1)
      printf ("| %-12s | chain of %d: %llu of %llu linked records taken from the inbox's mirror |\n",
          c->label, n, (unsigned long long) fast, (unsigned long long) routed);
    for (int i = 0; i < n; i++)
      if (a[i])
        stop (a[i]);
  }
  for (int k = 1; k < 4; k++)
    if (med[k][0] > 0 && med[0][0] > 0)
      printf ("%s: each of %d device hops adds %.2f us (64 B), %.2f us (4 KiB), median%s\n", c->label,
          lens[k] - 1, (med[k][0] - med[0][0]) / (lens[k] - 1), (med[k][1] - med[0][1]) / (lens[k] - 1), order);
  free (t);
}

typedef struct {
  rk_actor *a;
  uint64_t n;
  int ok, batch;
} Receiver;

static void *
receive_all (void *p)
{
  Receiver *r = p;
  rk_answer ans[64];
  r->ok = 1;
  for (uint64_t i = 0; i < r->n;) {
    /* batches come back in batches, with one release of the ring for each */
    int k = rk_actor_receive_batch (r->a, ans, r->batch ? 64 : 1, 30000000000ll);
    if (k < 0) {
      r->ok = 0;
      return NULL;
    }
    for (int j = 0; j < k; j++) {
      if (ans[j].rec.flags & RK_REC_F_ERROR)
        r->ok = 0;
      rk_actor_release_output (r->a, ans[j].out_token);
    }
    i += (uint64_t) k;
  }
  return NULL;
}

enum { COPY, ZERO_COPY, BATCH };
#define BATCH_RECORDS 64

static void
stream_one (Config *c, uint32_t len, uint64_t count, int how)
{
  static const char *const hows[] = { "copy", "zero-copy", "batch 64" };
  uint32_t entries = len >= (1 << 20) ? 8 : 256;
  uint64_t arena = (uint64_t) entries * len < (1 << 20) ? (1 << 20) : (uint64_t) entries * len;
  uint8_t *payload = malloc (len);
  memset (payload, 0x5a, len);
  rk_actor *a = start (c, "echo", entries, arena);
  if (!a) {
    free (payload);
    return;
  }
  Receiver r = { a, count, 0, how == BATCH };
  pthread_t th;
  int err = 0;
  uint64_t t0 = rk_now_ns ();
  pthread_create (&th, NULL, receive_all, &r);
  if (how == BATCH) {
    uint8_t *many = malloc ((size_t) len * BATCH_RECORDS);
    memset (many, 0x5a, (size_t) len * BATCH_RECORDS);
    for (uint64_t i = 0; i < count && !err; i += BATCH_RECORDS) {
      rk_record rec = { .type = RK_CMD_PROCESS };
      err = rk_actor_submit_batch (a, &rec, BATCH_RECORDS, many, len, len, 30000000000ll) < 0;
    }
    free (many);
  }
  for (uint64_t i = 0; how != BATCH && i < count && !err; i++) {
    rk_record rec = { .type = RK_CMD_PROCESS };
    if (how == ZERO_COPY) {
      rk_input in;
      err = rk_actor_reserve_input (a, len, &in, 30000000000ll) < 0;
      if (!err && i < entries)
        memcpy (in.ptr, payload, len); /* each region of the arena written once */
      err = err || rk_actor_submit_input (a, &rec, &in, len, 30000000000ll) < 0;
    } else {
      err = rk_actor_submit (a, &rec, payload, len, len, 30000000000ll) < 0;
    }
  }
  pthread_join (th, NULL);
  double secs = (rk_now_ns () - t0) / 1e9;
  const rk_control *ctl = rk_actor_control (a);
  uint64_t batches = rk_load_relaxed64 (&ctl->batches);
  printf ("| %-12s | stream %8u B %-9s | %12.0f rec/s | %8.2f GB/s | %6.1f |%s\n", c->label, len,
      hows[how], count / secs, count * (double) len / secs / 1e9,
      batches ? (double) rk_load_relaxed64 (&ctl->records_in) / (double) batches : 0.0,
      err || !r.ok ? " FAILED" : "");
  stop (a);
  free (payload);
}

static void
bench_streaming (Config *c)
{
  static const uint32_t sizes[4] = { 64, 64 << 10, 1 << 20, 8 << 20 };
  const uint64_t counts[4] = { quick ? 200000 : 2000000, quick ? 5000 : 40000, quick ? 500 : 4000,
    quick ? 60 : 500 };

  for (int s = 0; s < 4; s++) {
    stream_one (c, sizes[s], counts[s], COPY);
    if (sizes[s] < 4096)
      stream_one (c, sizes[s], counts[s] * 4, BATCH); /* counts are multiples of BATCH_RECORDS */
    if (sizes[s] >= (64 << 10))
      stream_one (c, sizes[s], counts[s], ZERO_COPY);
  }
}

static void
bench_param (Config *c)
{
  const int cal = quick ? 200 : 2000, iters = quick ? 200 : 2000;
  uint8_t payload[64] = { 0 };
  uint64_t *cost = calloc (iters, sizeof *cost);
  int64_t *applied = calloc (iters, sizeof *applied);
  uint64_t best_rt = UINT64_MAX;
  int64_t offset = 0;
  int bad = 0;
  rk_answer ans;
  rk_actor *a = start (c, "scale", 64, 1 << 20);

  if (!a)
    goto out;
  /* actor clock minus host clock, from the fastest of many round trips whose answers carry the
   * actor's time: good to half that round trip */
  for (int i = 0; i < cal; i++) {
    rk_record rec = { .type = RK_CMD_PROCESS };
    uint64_t t0 = rk_now_ns ();
    rk_actor_submit (a, &rec, payload, sizeof payload, sizeof payload, -1);
    rk_actor_receive (a, &ans, -1);
    uint64_t t1 = rk_now_ns ();
    rk_actor_release_output (a, ans.out_token);
    if (t1 - t0 < best_rt) {
      best_rt = t1 - t0;
      offset = (int64_t) ans.rec.u.desc.arg - (int64_t) ((t0 + t1) / 2);
    }
  }
  for (int i = 0; i < iters; i++) {
    rk_record rec = { .type = RK_CMD_SET_PARAM };
    double v = 1.0 + i;
    rec.u.desc.aux = 0;
    memcpy (&rec.u.desc.arg, &v, sizeof v);
    uint64_t t0 = rk_now_ns ();
    rk_actor_submit (a, &rec, NULL, 0, 0, -1);
    cost[i] = rk_now_ns () - t0;
    if (rk_actor_receive (a, &ans, -1) < 0 || (ans.rec.flags & RK_REC_F_ERROR))
      bad = 1;
    applied[i] = (int64_t) ans.rec.u.desc.arg - offset - (int64_t) t0;
  }
  qsort (cost, iters, sizeof *cost, cmp_u64);
  qsort (applied, iters, sizeof *applied, cmp_u64);
  printf ("| %-12s | %8.3f | %8.2f, %8.2f (+/- %.2f) |%s\n", c->label, cost[iters / 2] / 1e3,
      applied[iters / 2] / 1e3, applied[iters * 99 / 100] / 1e3, best_rt / 2e3,
      bad ? " REFUSED" : "");
  stop (a);
out:
  free (cost);
  free (applied);
}

int
main (int argc, char **argv)
{
  Config configs[] = {
    { "cpu", RK_BACKEND_CPU, RK_MODE_PERSISTENT },
    { "cuda", RK_BACKEND_CUDA, RK_MODE_PERSISTENT },
    { "cuda-launch", RK_BACKEND_CUDA, RK_MODE_LAUNCH },
    { "vulkan", RK_BACKEND_VULKAN, RK_MODE_PERSISTENT }, /* host-driven: a dispatch per record */
  };
  const int n = sizeof configs / sizeof configs[0];

  setvbuf (stdout, NULL, _IOLBF, 0); /* every row out as soon as measured, even if killed later */
  quick = argc > 1 && strcmp (argv[1], "--quick") == 0;
  for (int i = 0; i < n; i++) {
    char why[512] = "";
    configs[i].ops = rk_backend_get (configs[i].kind, why, sizeof why);
    if (configs[i].ops && configs[i].ops->probe (0, why, sizeof why) < 0)
      configs[i].ops = NULL;
    if (!configs[i].ops)
      printf ("%s: skipped (%s)\n", configs[i].label, why);
  }

  printf ("\n| backend      | what                  |  min us  | median us |  p99 us  |\n");
  printf ("|---|---|---|---|---|\n");
  for (int i = 0; i < n; i++)
    if (configs[i].ops)
      bench_round_trips (&configs[i]);

  printf ("\n| backend      | K2K chain, round trip |  min us  | median us |  p99 us  |\n");
  printf ("|---|---|---|---|---|\n");
  for (int i = 0; i < 2; i++) /* cpu and cuda (persistent): the backends with K2K links */
    if (configs[i].ops) {
      bench_hops (&configs[i], 0);
      bench_hops (&configs[i], HOP_GAP_NS);
    }

  printf ("\n| backend      | what                  | rate | bandwidth | records per actor batch |\n"
          "|---|---|---|---|---|\n");
  for (int i = 0; i < n; i++)
    if (configs[i].ops)
      bench_streaming (&configs[i]);

  printf ("\n| backend      | parameter change: host cost us (median) | applied after us (median, p99) |\n");
  printf ("|---|---|---|\n");
  for (int i = 0; i < n; i++)
    if (configs[i].ops)
      bench_param (&configs[i]);

  if (configs[1].ops && configs[2].ops) {
    printf ("\nround trip, cuda-launch / cuda (median):");
    for (int s = 0; s < 3; s++)
      printf (" %.2fx", configs[2].rt_median[s] / configs[1].rt_median[s]);
    printf ("\n");
  }
  if (configs[1].ops && configs[3].ops) {
    printf ("round trip, vulkan / cuda (median):");
    for (int s = 0; s < 3; s++)
      printf (" %.2fx", configs[3].rt_median[s] / configs[1].rt_median[s]);
    printf ("\n");
  }
  return 0;
}
