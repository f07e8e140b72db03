/* gst-ringkernel: the command set end to end through the host runtime (gpu/rk_actor.c) on the CPU
 * backend (gpu/cpu/rk_cpu.c), which serves records with the reference semantics (core/rk_ref_actor.c).
 *
 * Every command (PROCESS inline and arena-backed, SET_PARAM, PAUSE, RESUME, DRAIN, SNAPSHOT, RESTORE,
 * LINK, an unknown type, TERMINATE through rk_actor_stop), the answers' sequence numbers, types and HLC
 * stamps, backpressure (timeouts, interrupt, wake-up of a blocked producer), a two-thread stress of
 * 1 M records, and 200 actors started and stopped without leaking threads.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "rk_actor.h"
#include "rk_backend.h"
#include "rk_barrier.h"
#include "rk_handlers.h"
#include "rk_hlc.h"
#include "rk_test.h"
#include "rk_wait.h"

#define SEC INT64_C (1000000000)
#define MS INT64_C (1000000)
#define MIB (1u << 20)
#define HOST_NODE 2
#define ACTOR_NODE 3
#define PROMPT_S 0.05 /* a woken wait returns within this (it takes microseconds) */

static rk_test_rng rng;

/* An actor of the CPU backend; inbox: bytes of its K2K inbox arena (0: none). */
static rk_actor *
new_actor_with_inbox (const char *handler, uint32_t entries, uint64_t arena, uint64_t inbox)
{
  rk_actor_config cfg = {
    .backend = &rk_backend_cpu,
    .device_id = 0,
    .handler = rk_handler_find (handler),
    .ring_entries = entries,
    .in_arena_size = arena,
    .out_arena_size = arena,
    .node = ACTOR_NODE,
    .inbox_arena_size = inbox,
  };
  rk_actor *a = NULL;
  char why[256] = "";
  CHECK (cfg.handler != NULL);
  int r = rk_actor_new (&cfg, &a, why, sizeof why);
  CHECK_MSG (r == 0 && a != NULL, "rk_actor_new: %d (%s)", r, why);
  CHECK (rk_actor_backend (a) == &rk_backend_cpu);
  CHECK (rk_actor_handler (a) == cfg.handler);
  CHECK_EQ_U (rk_actor_ring_entries (a), entries);
  CHECK_EQ_U (rk_actor_in_flight (a), 0);
  return a;
}

static rk_actor *
new_actor (const char *handler, uint32_t entries, uint64_t arena)
{
  return new_actor_with_inbox (handler, entries, arena, 0);
}

static uint32_t
actor_state (rk_actor *a)
{
  return rk_load_acquire32 (&rk_actor_control (a)->state);
}

/* ---- a driver that checks every answer against what was submitted ---- */

#define TRACK 64 /* more than any ring used with the driver */

typedef struct driver {
  rk_actor *a;
  rk_hlc host;              /* the host's clock: records are stamped with it */
  uint64_t next_seq;        /* seq of the next submission */
  uint64_t next_answer;     /* seq the next answer must carry */
  uint64_t last_hlc;        /* the previous answer's stamp */
  uint64_t last_actor_ns;   /* the previous arena answer's actor time */
  uint16_t type[TRACK];     /* per seq % TRACK: type submitted */
  uint64_t sent_hlc[TRACK]; /* per seq % TRACK: stamp submitted */
} driver;

static void
driver_init (driver *d, rk_actor *a)
{
  memset (d, 0, sizeof *d);
  d->a = a;
  rk_hlc_init (&d->host, HOST_NODE);
}

/* Submit one record; returns its seq. */
static uint64_t
send_full (driver *d, uint16_t type, uint32_t aux, uint64_t arg, const void *payload, uint32_t len,
    uint32_t out_cap)
{
  rk_record rec;
  memset (&rec, 0xa5, sizeof rec); /* the submit sets every field it owns */
  rec.type = type;
  rec.hlc = rk_hlc_tick (&d->host);
  rec.node = HOST_NODE;
  rec.u.desc.aux = aux;
  rec.u.desc.arg = arg;
  int r = rk_actor_submit (d->a, &rec, payload, len, out_cap, 5 * SEC);
  CHECK_MSG (r == 0, "submit of %s: %d", rk_cmd_name (type), r);
  CHECK_EQ_U (rec.seq, d->next_seq);
  CHECK_EQ_U (rec.len, len);
  d->type[rec.seq % TRACK] = type;
  d->sent_hlc[rec.seq % TRACK] = rec.hlc;
  d->next_seq++;
  return rec.seq;
}

static uint64_t
send_cmd (driver *d, uint16_t type)
{
  return send_full (d, type, 0, 0, NULL, 0, 0);
}

static uint64_t
send_param (driver *d, uint32_t index, double value)
{
  uint64_t bits;
  memcpy (&bits, &value, sizeof bits);
  return send_full (d, RK_CMD_SET_PARAM, index, bits, NULL, 0, 0);
}

static uint64_t
send_process (driver *d, const void *payload, uint32_t len)
{
  return send_full (d, RK_CMD_PROCESS, 0, 0, payload, len, len);
}

/* Take the next answer and check what every answer must satisfy. */
static void
recv_answer (driver *d, rk_answer *ans)
{
  memset (ans, 0, sizeof *ans);
  int r = rk_actor_receive (d->a, ans, 5 * SEC);
  CHECK_MSG (r == 0, "receive: %d", r);
  const rk_record *rec = &ans->rec;
  CHECK_MSG (rec->seq == d->next_answer, "answer seq %" PRIu64 ", expected %" PRIu64, rec->seq,
      d->next_answer);
  CHECK_EQ_U (rec->type, d->type[rec->seq % TRACK]);
  CHECK_EQ_U (rec->node, ACTOR_NODE);
  /* the actor's stamps strictly increase and each answer is after the record it answers */
  CHECK_GT_U (rec->hlc, d->last_hlc);
  CHECK_GT_U (rec->hlc, d->sent_hlc[rec->seq % TRACK]);
  d->last_hlc = rec->hlc;
  rk_hlc_recv (&d->host, rec->hlc);
  /* the error flag and the status agree */
  CHECK_EQ_U (!!(rec->flags & RK_REC_F_ERROR), rec->status != RK_STATUS_OK);
  if (rec->flags & RK_REC_F_ERROR) {
    CHECK_EQ_U (rec->len, 0);
    CHECK (ans->out == NULL);
    CHECK_EQ_U (ans->out_token, 0);
  }
  if (!(rec->flags & RK_REC_F_INLINE)) {
    /* actor time of service, never going back */
    CHECK (rec->u.desc.arg > 0);
    CHECK (rec->u.desc.arg >= d->last_actor_ns);
    d->last_actor_ns = rec->u.desc.arg;
  }
  d->next_answer++;
}

/* Receive the answer to a command that must succeed with no payload. */
static void
expect_ok (driver *d, uint64_t seq)
{
  rk_answer ans;
  recv_answer (d, &ans);
  CHECK_EQ_U (ans.rec.seq, seq);
  CHECK_MSG (ans.rec.status == RK_STATUS_OK, "%s: %s", rk_cmd_name (ans.rec.type),
      rk_status_name (ans.rec.status));
  CHECK (!(ans.rec.flags & RK_REC_F_ERROR));
  rk_actor_release_output (d->a, ans.out_token);
}

/* Receive the answer to a command that must be refused with `status`. */
static void
expect_error (driver *d, uint64_t seq, uint32_t status)
{
  rk_answer ans;
  recv_answer (d, &ans);
  CHECK_EQ_U (ans.rec.seq, seq);
  CHECK (ans.rec.flags & RK_REC_F_ERROR);
  CHECK_MSG (ans.rec.status == status, "%s answered %s, expected %s", rk_cmd_name (ans.rec.type),
      rk_status_name (ans.rec.status), rk_status_name (status));
  CHECK_EQ_U (rk_load_relaxed32 (&rk_actor_control (d->a)->last_error), status);
}

/* A SNAPSHOT answered TOO_LARGE, saying that it needs `need` bytes. */
static void
expect_snapshot_needs (driver *d, uint64_t seq, uint64_t need)
{
  rk_answer ans;
  recv_answer (d, &ans);
  CHECK_EQ_U (ans.rec.seq, seq);
  CHECK_MSG ((ans.rec.flags & RK_REC_F_ERROR) && ans.rec.status == RK_STATUS_TOO_LARGE,
      "SNAPSHOT answered %s, expected too-large", rk_status_name (ans.rec.status));
  CHECK_EQ_U (ans.rec.u.desc.out_cap, need);
}

static void
random_floats (float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (float) rk_test_uniform (&rng, -100.0, 100.0);
}

/* Receive a PROCESS answer of scale and compare it with y = (float) a * x + (float) b, bit for bit. */
static void
expect_scaled (driver *d, uint64_t seq, const float *x, size_t n, double a, double b)
{
  rk_answer ans;
  recv_answer (d, &ans);
  CHECK_EQ_U (ans.rec.seq, seq);
  CHECK_MSG (ans.rec.status == RK_STATUS_OK, "%s", rk_status_name (ans.rec.status));
  CHECK_EQ_U (ans.rec.len, n * 4);
  if (n * 4 <= RK_INLINE_MAX) {
    CHECK (ans.rec.flags & RK_REC_F_INLINE);
    CHECK (ans.out == NULL);
    CHECK_EQ_U (ans.out_token, 0);
  } else {
    CHECK (!(ans.rec.flags & RK_REC_F_INLINE));
    CHECK (ans.out != NULL || n == 0);
    CHECK (ans.out_token != 0 || n == 0);
  }
  const uint8_t *data = rk_answer_data (&ans);
  const float fa = (float) a, fb = (float) b;
  for (size_t i = 0; i < n; i++) {
    float y, want = fa * x[i] + fb;
    memcpy (&y, data + 4 * i, 4);
    CHECK_MSG (memcmp (&y, &want, 4) == 0, "seq %" PRIu64 " sample %zu: %a, expected %a (a=%g b=%g)", seq, i,
        (double) y, (double) want, a, b);
  }
  rk_actor_release_output (d->a, ans.out_token);
}

/* ---- the command set on scale ---- */

static void
test_commands_scale (void)
{
  enum { BIG = 16384 }; /* 64 KiB of floats */
  static float x[BIG], x2[BIG];
  double a = rk_test_uniform (&rng, -4.0, 4.0), b = rk_test_uniform (&rng, -4.0, 4.0);
  driver d;
  uint64_t s1, s2, s3;

  SECTION ("scale actor: start");
  rk_actor *act = new_actor ("scale", 8, MIB);
  driver_init (&d, act);
  const rk_control *ctl = rk_actor_control (act);
  CHECK_EQ_U (ctl->magic, RK_CONTROL_MAGIC);
  CHECK_EQ_U (ctl->kernel_id, RK_KERNEL_SCALE);
  CHECK_EQ_U (ctl->node, ACTOR_NODE);
  /* rk_actor_new returns once the actor runs */
  CHECK_MSG (actor_state (act) == RK_STATE_ACTIVE, "state %s after rk_actor_new",
      rk_state_name (actor_state (act)));
  CHECK (ctl->state_ns[RK_STATE_LAUNCHED] > 0);
  CHECK (ctl->state_ns[RK_STATE_ACTIVE] >= ctl->state_ns[RK_STATE_LAUNCHED]);
  char why[128] = "";
  CHECK_EQ_I (rk_actor_check (act, why, sizeof why), 0);

  SECTION ("PROCESS with the default parameters (a = 1, b = 0)");
  random_floats (x, 8);
  s1 = send_process (&d, x, 32);
  expect_scaled (&d, s1, x, 8, 1.0, 0.0);

  SECTION ("SET_PARAM a, b; PROCESS inline (0..32 bytes) and from the arena (36 bytes, 64 KiB)");
  expect_ok (&d, send_param (&d, 0, a));
  expect_ok (&d, send_param (&d, 1, b));
  for (uint32_t n = 0; n <= RK_INLINE_MAX / 4; n++) {
    random_floats (x, n);
    s1 = send_process (&d, x, n * 4);
    expect_scaled (&d, s1, x, n, a, b);
  }
  random_floats (x, 9);
  s1 = send_process (&d, x, 36);
  expect_scaled (&d, s1, x, 9, a, b);
  random_floats (x, BIG);
  s1 = send_process (&d, x, BIG * 4);
  expect_scaled (&d, s1, x, BIG, a, b);

  SECTION ("PROCESS pipelined: a full ring of 8, then the answers");
  {
    static float xs[8][BIG / 8];
    uint64_t seqs[8];
    for (int i = 0; i < 8; i++) {
      size_t n = (i % 2) ? BIG / 8 : 5; /* alternate arena and inline */
      random_floats (xs[i], n);
      seqs[i] = send_process (&d, xs[i], (uint32_t) n * 4);
    }
    CHECK_EQ_U (rk_actor_in_flight (act), 8);
    CHECK (!rk_actor_can_submit (act, 4, 4));
    for (int i = 0; i < 8; i++)
      expect_scaled (&d, seqs[i], xs[i], (i % 2) ? BIG / 8 : 5, a, b);
    CHECK_EQ_U (rk_actor_in_flight (act), 0);
    CHECK (rk_actor_ring_high_water (act) >= 1 && rk_actor_ring_high_water (act) <= 8);
  }

  SECTION ("SET_PARAM applies from the next record on");
  {
    double a2 = rk_test_uniform (&rng, -4.0, 4.0), b2 = rk_test_uniform (&rng, -4.0, 4.0);
    random_floats (x, BIG);
    random_floats (x2, 8);
    /* all five in flight at once: the order in the ring is the order of effect */
    s1 = send_process (&d, x, BIG * 4);
    uint64_t p1 = send_param (&d, 0, a2);
    s2 = send_process (&d, x2, 32);
    uint64_t p2 = send_param (&d, 1, b2);
    s3 = send_process (&d, x, BIG * 4);
    expect_scaled (&d, s1, x, BIG, a, b);
    expect_ok (&d, p1);
    expect_scaled (&d, s2, x2, 8, a2, b);
    expect_ok (&d, p2);
    expect_scaled (&d, s3, x, BIG, a2, b2);
    a = a2;
    b = b2;
  }

  SECTION ("SET_PARAM refused: bad index, NaN; the parameters stay as they were");
  {
    uint64_t errors = rk_load_relaxed64 (&ctl->errors);
    expect_error (&d, send_param (&d, 2, 0.0), RK_STATUS_INVALID); /* 0.0: inside any range */
    expect_error (&d, send_param (&d, RK_MAX_PARAMS, 1.0), RK_STATUS_INVALID);
    expect_error (&d, send_param (&d, UINT32_MAX, 1.0), RK_STATUS_INVALID);
    expect_error (&d, send_param (&d, 0, NAN), RK_STATUS_INVALID);
    expect_error (&d, send_param (&d, 1, 1e31), RK_STATUS_INVALID); /* outside [min, max] */
    CHECK_EQ_U (rk_load_relaxed64 (&ctl->errors), errors + 5);
    random_floats (x, 8);
    s1 = send_process (&d, x, 32);
    expect_scaled (&d, s1, x, 8, a, b);
  }

  SECTION ("PROCESS refused: length not a multiple of 4, output region too small");
  expect_error (&d, send_full (&d, RK_CMD_PROCESS, 0, 0, x, 6, 6), RK_STATUS_INVALID);
  expect_error (&d, send_full (&d, RK_CMD_PROCESS, 0, 0, x, 1002, 1002), RK_STATUS_INVALID);
  expect_error (&d, send_full (&d, RK_CMD_PROCESS, 0, 0, x, 4096, 1024), RK_STATUS_TOO_LARGE);

  SECTION ("PAUSE: state PAUSED, records still answered; RESUME: state ACTIVE");
  {
    uint64_t t_before = rk_now_ns ();
    expect_ok (&d, send_cmd (&d, RK_CMD_PAUSE));
    CHECK_EQ_U (actor_state (act), RK_STATE_PAUSED);
    CHECK (ctl->state_ns[RK_STATE_PAUSED] >= t_before);
    /* a paused actor does not spin: it sleeps and still serves whatever arrives, in order */
    for (int i = 0; i < 3; i++) {
      usleep (20000);
      random_floats (x, BIG);
      s1 = send_process (&d, x, BIG * 4);
      random_floats (x2, 4);
      s2 = send_process (&d, x2, 16);
      expect_scaled (&d, s1, x, BIG, a, b);
      expect_scaled (&d, s2, x2, 4, a, b);
      CHECK_EQ_U (actor_state (act), RK_STATE_PAUSED);
    }
    expect_ok (&d, send_param (&d, 1, 0.5)); /* control is served while paused, too */
    b = 0.5;
    t_before = rk_now_ns ();
    expect_ok (&d, send_cmd (&d, RK_CMD_RESUME));
    CHECK_EQ_U (actor_state (act), RK_STATE_ACTIVE);
    CHECK (ctl->state_ns[RK_STATE_ACTIVE] >= t_before);
    random_floats (x, 8);
    s1 = send_process (&d, x, 32);
    expect_scaled (&d, s1, x, 8, a, b);
  }

  SECTION ("DRAIN is answered after every earlier record");
  {
    static float xs[7][1024];
    uint64_t seqs[7];
    for (int i = 0; i < 7; i++) {
      random_floats (xs[i], 1024);
      seqs[i] = send_process (&d, xs[i], 4096);
    }
    uint64_t drain = send_cmd (&d, RK_CMD_DRAIN);
    CHECK_EQ_U (drain, seqs[6] + 1);
    for (int i = 0; i < 7; i++)
      expect_scaled (&d, seqs[i], xs[i], 1024, a, b);
    expect_ok (&d, drain);
    CHECK_EQ_U (rk_actor_in_flight (act), 0);
    /* every record so far was taken and answered */
    CHECK_EQ_U (rk_load_relaxed64 (&ctl->records_in), d.next_seq);
    CHECK_EQ_U (rk_load_relaxed64 (&ctl->last_seq), drain);
  }

  SECTION ("LINK: a malformed route is INVALID; unknown types: UNKNOWN_CMD");
  {
    rk_route route = { .inbox_addr = 0x1000, .arena_addr = 0x2000, .arena_size = 4096, .route_id = 1,
      .flags = 2 }; /* no such flag */
    expect_error (&d, send_full (&d, RK_CMD_LINK, 0, 0, &route, sizeof route, 0), RK_STATUS_INVALID);
    expect_error (&d, send_full (&d, RK_CMD_LINK, 0, 0, &route, sizeof route - 1, 0), RK_STATUS_INVALID);
    expect_error (&d, send_cmd (&d, 200), RK_STATUS_UNKNOWN_CMD);
    expect_error (&d, send_cmd (&d, 0), RK_STATUS_UNKNOWN_CMD);
    expect_error (&d, send_cmd (&d, RK_CMD_COUNT_), RK_STATUS_UNKNOWN_CMD);
    expect_error (&d, send_full (&d, 0xffff, 0, 0, x, 64, 64), RK_STATUS_UNKNOWN_CMD);
    /* refusals change nothing: the actor goes on */
    random_floats (x, 8);
    s1 = send_process (&d, x, 32);
    expect_scaled (&d, s1, x, 8, a, b);
  }

  SECTION ("TERMINATE through rk_actor_stop");
  {
    /* leave records unanswered: stop discards their answers */
    random_floats (x, 8);
    send_process (&d, x, 32);
    send_process (&d, x, BIG * 4);
    uint64_t t_before = rk_now_ns ();
    CHECK_EQ_I (rk_actor_stop (act, 5 * SEC), 0);
    CHECK_EQ_U (actor_state (act), RK_STATE_TERMINATED);
    CHECK (ctl->state_ns[RK_STATE_TERMINATED] >= t_before);
    /* the two records and TERMINATE were served */
    CHECK_EQ_U (rk_load_relaxed64 (&ctl->records_in), d.next_seq + 1);
    CHECK_EQ_U (rk_load_relaxed64 (&ctl->last_seq), d.next_seq);
    CHECK_EQ_I (rk_actor_stop (act, 5 * SEC), 0); /* again: same result */
    /* a stopped actor takes nothing and answers nothing */
    rk_record rec = { .type = RK_CMD_PROCESS };
    CHECK_EQ_I (rk_actor_submit (act, &rec, x, 8, 8, 0), -EIO);
    rk_answer ans;
    CHECK_EQ_I (rk_actor_receive (act, &ans, 0), -EIO);
    CHECK_EQ_I (rk_actor_receive (act, &ans, 10 * MS), -EIO);
    CHECK (rk_actor_check (act, why, sizeof why) < 0);
  }
  rk_actor_unref (act);
}

/* ---- SNAPSHOT / RESTORE ---- */

typedef struct snapshot {
  uint8_t *bytes;
  uint32_t len;
} snapshot;

static snapshot
take_snapshot (driver *d, uint32_t out_cap)
{
  rk_answer ans;
  uint64_t seq = send_full (d, RK_CMD_SNAPSHOT, 0, 0, NULL, 0, out_cap);
  recv_answer (d, &ans);
  CHECK_EQ_U (ans.rec.seq, seq);
  CHECK_MSG (ans.rec.status == RK_STATUS_OK, "SNAPSHOT: %s", rk_status_name (ans.rec.status));
  CHECK (ans.out != NULL && ans.out_token != 0);
  CHECK (ans.rec.len >= sizeof (rk_checkpoint) && ans.rec.len <= out_cap);
  snapshot s = { malloc (ans.rec.len), ans.rec.len };
  CHECK (s.bytes != NULL);
  memcpy (s.bytes, ans.out, ans.rec.len);
  rk_actor_release_output (d->a, ans.out_token);
  return s;
}

static uint64_t
send_restore (driver *d, const void *cp, uint32_t len)
{
  return send_full (d, RK_CMD_RESTORE, 0, 0, cp, len, 0);
}

/* PROCESS on accumulate: returns the output (caller frees). */
static float *
process_accumulate (driver *d, const float *x, size_t n)
{
  rk_answer ans;
  uint64_t seq = send_process (d, x, (uint32_t) n * 4);
  recv_answer (d, &ans);
  CHECK_EQ_U (ans.rec.seq, seq);
  CHECK_MSG (ans.rec.status == RK_STATUS_OK, "%s", rk_status_name (ans.rec.status));
  CHECK_EQ_U (ans.rec.len, n * 4);
  float *y = malloc (n * 4);
  CHECK (y != NULL);
  memcpy (y, rk_answer_data (&ans), n * 4);
  rk_actor_release_output (d->a, ans.out_token);
  return y;
}

static void
test_snapshot_restore (void)
{
  enum { N = 1000 };
  static float x[6][N];
  driver d;

  SECTION ("SNAPSHOT of an accumulate actor, more PROCESS, RESTORE: the state is back");
  rk_actor *act = new_actor ("accumulate", 8, MIB);
  driver_init (&d, act);
  for (int i = 0; i < 6; i++)
    random_floats (x[i], N);
  for (int i = 0; i < 3; i++)
    free (process_accumulate (&d, x[i], N));

  uint64_t hlc_before = d.last_hlc;
  snapshot snap = take_snapshot (&d, 64 * 1024);
  rk_checkpoint cp;
  memcpy (&cp, snap.bytes, sizeof cp);
  CHECK_EQ_U (cp.magic, RK_CHECKPOINT_MAGIC);
  CHECK_EQ_U (cp.version, RK_ABI_VERSION);
  CHECK_EQ_U (cp.kernel_id, RK_KERNEL_ACCUMULATE);
  CHECK_EQ_U (cp.n_params, 0);
  CHECK_EQ_U (cp.state_len, offsetof (rk_accumulate_state, sum) + N * sizeof (double));
  CHECK_EQ_U (snap.len, sizeof cp + cp.state_len);
  CHECK (cp.hlc > hlc_before && cp.hlc < d.last_hlc); /* the clock at the snapshot */
  {
    /* the state in the checkpoint: 3 buffers of N samples, and their sums */
    uint64_t count;
    uint32_t samples;
    memcpy (&count, snap.bytes + sizeof cp + offsetof (rk_accumulate_state, count), sizeof count);
    memcpy (&samples, snap.bytes + sizeof cp + offsetof (rk_accumulate_state, samples), sizeof samples);
    CHECK_EQ_U (count, 3);
    CHECK_EQ_U (samples, N);
    for (int i = 0; i < N; i++) {
      double s;
      memcpy (&s, snap.bytes + sizeof cp + offsetof (rk_accumulate_state, sum) + 8 * (size_t) i, 8);
      CHECK (s == ((double) x[0][i] + (double) x[1][i]) + (double) x[2][i]);
    }
  }

  /* the output right after the snapshot */
  float *y_after = process_accumulate (&d, x[3], N);
  /* more buffers move the state on; the same input no longer gives the same output */
  free (process_accumulate (&d, x[4], N));
  free (process_accumulate (&d, x[5], N));
  float *y_moved = process_accumulate (&d, x[3], N);
  CHECK (memcmp (y_after, y_moved, N * 4) != 0);
  free (y_moved);

  expect_ok (&d, send_restore (&d, snap.bytes, snap.len));
  float *y_restored = process_accumulate (&d, x[3], N);
  CHECK_MSG (memcmp (y_after, y_restored, N * 4) == 0, "the state was not restored");
  free (y_restored);

  SECTION ("RESTORE of corrupted checkpoints: BAD_CHECKPOINT, the state untouched");
  expect_ok (&d, send_restore (&d, snap.bytes, snap.len));
  {
    uint8_t *bad = malloc (snap.len + 64);
    rk_checkpoint *bcp = (rk_checkpoint *) (void *) bad;
    CHECK (bad != NULL);
    /* magic */
    memcpy (bad, snap.bytes, snap.len);
    bad[0] ^= 0x01;
    expect_error (&d, send_restore (&d, bad, snap.len), RK_STATUS_BAD_CHECKPOINT);
    /* version */
    memcpy (bad, snap.bytes, snap.len);
    bcp->version = RK_ABI_VERSION + 1;
    expect_error (&d, send_restore (&d, bad, snap.len), RK_STATUS_BAD_CHECKPOINT);
    /* another handler's checkpoint */
    memcpy (bad, snap.bytes, snap.len);
    bcp->kernel_id = RK_KERNEL_SCALE;
    expect_error (&d, send_restore (&d, bad, snap.len), RK_STATUS_BAD_CHECKPOINT);
    /* parameter count */
    memcpy (bad, snap.bytes, snap.len);
    bcp->n_params = 2;
    expect_error (&d, send_restore (&d, bad, snap.len), RK_STATUS_BAD_CHECKPOINT);
    /* truncated: state_len disagrees with the payload */
    expect_error (&d, send_restore (&d, snap.bytes, snap.len - 8), RK_STATUS_BAD_CHECKPOINT);
    /* too long */
    memcpy (bad, snap.bytes, snap.len);
    memset (bad + snap.len, 0, 64);
    expect_error (&d, send_restore (&d, bad, snap.len + 64), RK_STATUS_BAD_CHECKPOINT);
    /* shorter than a checkpoint header */
    expect_error (&d, send_restore (&d, snap.bytes, sizeof (rk_checkpoint) - 1), RK_STATUS_BAD_CHECKPOINT);
    expect_error (&d, send_restore (&d, snap.bytes, 16), RK_STATUS_BAD_CHECKPOINT);
    /* the handler's state header disagrees with its length */
    memcpy (bad, snap.bytes, snap.len);
    uint32_t samples = N + 1;
    memcpy (bad + sizeof cp + offsetof (rk_accumulate_state, samples), &samples, sizeof samples);
    expect_error (&d, send_restore (&d, bad, snap.len), RK_STATUS_BAD_CHECKPOINT);
    /* state_len and the length agree, but the header claims more than the state holds */
    memcpy (bad, snap.bytes, snap.len);
    bcp->state_len = cp.state_len - 8;
    expect_error (&d, send_restore (&d, bad, snap.len - 8), RK_STATUS_BAD_CHECKPOINT);
    free (bad);
  }
  /* none of the refusals touched the restored state */
  y_restored = process_accumulate (&d, x[3], N);
  CHECK_MSG (memcmp (y_after, y_restored, N * 4) == 0, "a refused RESTORE changed the state");
  free (y_restored);

  SECTION ("SNAPSHOT refused: output region too small for the header, or for the state; the answer "
      "says how much it needs");
  expect_snapshot_needs (&d, send_full (&d, RK_CMD_SNAPSHOT, 0, 0, NULL, 0, sizeof (rk_checkpoint) - 1),
      snap.len);
  expect_snapshot_needs (&d, send_full (&d, RK_CMD_SNAPSHOT, 0, 0, NULL, 0, (uint32_t) (snap.len - 8)),
      snap.len);
  expect_error (&d, send_full (&d, RK_CMD_SNAPSHOT, 0, 0, NULL, 0, 0), RK_STATUS_TOO_LARGE); /* no region */
  free (y_after);
  free (snap.bytes);
  CHECK_EQ_I (rk_actor_stop (act, 5 * SEC), 0);
  CHECK_EQ_U (actor_state (act), RK_STATE_TERMINATED);
  rk_actor_unref (act);

  SECTION ("SNAPSHOT / RESTORE of a stateless handler's parameters (scale)");
  act = new_actor ("scale", 8, MIB);
  driver_init (&d, act);
  expect_ok (&d, send_param (&d, 0, 3.0));
  expect_ok (&d, send_param (&d, 1, -2.0));
  snapshot s2 = take_snapshot (&d, 4096);
  CHECK_EQ_U (s2.len, sizeof (rk_checkpoint));
  memcpy (&cp, s2.bytes, sizeof cp);
  CHECK_EQ_U (cp.kernel_id, RK_KERNEL_SCALE);
  CHECK_EQ_U (cp.n_params, 2);
  CHECK_EQ_U (cp.state_len, 0);
  CHECK (cp.params[0] == 3.0 && cp.params[1] == -2.0);
  expect_ok (&d, send_param (&d, 0, 5.0));
  random_floats (x[0], 8);
  uint64_t s = send_process (&d, x[0], 32);
  expect_scaled (&d, s, x[0], 8, 5.0, -2.0);
  expect_ok (&d, send_restore (&d, s2.bytes, s2.len));
  s = send_process (&d, x[0], 32);
  expect_scaled (&d, s, x[0], 8, 3.0, -2.0);
  /* a stateless handler's checkpoint carries no state */
  {
    uint8_t bad[sizeof (rk_checkpoint) + 8] = { 0 };
    memcpy (bad, s2.bytes, sizeof cp);
    ((rk_checkpoint *) (void *) bad)->state_len = 8;
    expect_error (&d, send_restore (&d, bad, sizeof bad), RK_STATUS_BAD_CHECKPOINT);
  }
  free (s2.bytes);
  CHECK_EQ_I (rk_actor_stop (act, 5 * SEC), 0);
  rk_actor_unref (act);
}

/* ---- backpressure, timeouts, interrupt ---- */

typedef struct blocked_submit {
  rk_actor *a;
  _Atomic int started, done;
  int result;
  uint64_t seq;
  double t_done;
} blocked_submit;

static void *
blocked_submit_main (void *arg)
{
  blocked_submit *b = arg;
  rk_record rec = { .type = RK_CMD_PROCESS };
  uint32_t v = 0xfeedu;
  atomic_store (&b->started, 1);
  b->result = rk_actor_submit (b->a, &rec, &v, sizeof v, sizeof v, -1);
  b->seq = rec.seq;
  b->t_done = rk_test_now_s ();
  atomic_store (&b->done, 1);
  return NULL;
}

typedef struct blocked_receive {
  rk_actor *a;
  const uint32_t *word; /* rk_actor_receive_unless () on it, or NULL */
  uint32_t seen;
  _Atomic int started, done;
  int result;
  double t_done;
  rk_answer ans;
} blocked_receive;

static void *
blocked_receive_main (void *arg)
{
  blocked_receive *b = arg;
  atomic_store (&b->started, 1);
  b->result = b->word ? rk_actor_receive_unless (b->a, &b->ans, -1, b->word, b->seen)
                      : rk_actor_receive (b->a, &b->ans, -1);
  b->t_done = rk_test_now_s ();
  atomic_store (&b->done, 1);
  return NULL;
}

static void
start_blocked_submit (blocked_submit *b, rk_actor *a, pthread_t *t)
{
  memset (b, 0, sizeof *b);
  b->a = a;
  CHECK_EQ_I (pthread_create (t, NULL, blocked_submit_main, b), 0);
  while (!atomic_load (&b->started))
    usleep (1000);
  /* long enough to be past the spin and asleep, short of the 100 ms slice after which a sleeping host
   * looks around anyway: a wake-up that only comes with that slice is too late for PROMPT_S */
  usleep (20000);
  CHECK_MSG (!atomic_load (&b->done), "a submit to a full ring returned %d instead of waiting", b->result);
}

static void
test_backpressure (void)
{
  rk_record rec;
  rk_answer ans;
  uint32_t v;
  pthread_t t;
  blocked_submit b;

  SECTION ("backpressure: ring of 4, nobody receives: the 5th submit times out");
  rk_actor *a = new_actor ("echo", 4, MIB);
  CHECK_EQ_I (rk_actor_receive (a, &ans, 0), -ETIMEDOUT); /* nothing to receive */
  for (uint32_t i = 0; i < 4; i++) {
    rec = (rk_record) { .type = RK_CMD_PROCESS };
    v = i;
    CHECK_EQ_I (rk_actor_submit (a, &rec, &v, sizeof v, sizeof v, 0), 0);
    CHECK_EQ_U (rec.seq, i);
  }
  CHECK_EQ_U (rk_actor_in_flight (a), 4);
  CHECK (!rk_actor_can_submit (a, 4, 4));
  CHECK (!rk_actor_can_submit (a, 4096, 4096));
  rec = (rk_record) { .type = RK_CMD_PROCESS };
  CHECK_EQ_I (rk_actor_submit (a, &rec, &v, sizeof v, sizeof v, 0), -ETIMEDOUT);
  /* an arena-backed record too, and its reservation is given back */
  static uint8_t big[8192];
  CHECK_EQ_I (rk_actor_submit (a, &rec, big, sizeof big, sizeof big, 0), -ETIMEDOUT);
  double t0 = rk_test_now_s ();
  CHECK_EQ_I (rk_actor_submit (a, &rec, &v, sizeof v, sizeof v, 30 * MS), -ETIMEDOUT);
  double waited = rk_test_now_s () - t0;
  CHECK_MSG (waited >= 0.029 && waited < 2.0, "a 30 ms timeout took %.3f s", waited);
  /* a record that could never fit is refused at once */
  CHECK_EQ_I (rk_actor_submit (a, &rec, big, MIB + 1, MIB + 1, -1), -EMSGSIZE);
  CHECK_EQ_U (rk_actor_in_flight (a), 4);

  SECTION ("interrupt: a blocked submit (no timeout) returns -EINTR promptly");
  start_blocked_submit (&b, a, &t);
  t0 = rk_test_now_s ();
  rk_actor_interrupt (a, true);
  CHECK_EQ_I (pthread_join (t, NULL), 0);
  CHECK_EQ_I (b.result, -EINTR);
  CHECK_MSG (b.t_done - t0 < PROMPT_S, "interrupt took %.3f s", b.t_done - t0);
  printf ("  interrupted a blocked submit in %.1f us\n", (b.t_done - t0) * 1e6);
  /* while interrupted, a submit that would wait returns -EINTR at once */
  rec = (rk_record) { .type = RK_CMD_PROCESS };
  CHECK_EQ_I (rk_actor_submit (a, &rec, &v, sizeof v, sizeof v, -1), -EINTR);
  rk_actor_interrupt (a, false);

  SECTION ("the answers were all kept; a blocked submit proceeds once an answer is received");
  start_blocked_submit (&b, a, &t);
  CHECK_EQ_I (rk_actor_receive (a, &ans, 5 * SEC), 0);
  t0 = rk_test_now_s ();
  CHECK_EQ_U (ans.rec.seq, 0);
  CHECK_EQ_U (ans.rec.len, 4);
  CHECK_EQ_I (pthread_join (t, NULL), 0);
  CHECK_EQ_I (b.result, 0);
  CHECK_EQ_U (b.seq, 4); /* the refused and interrupted submits used no sequence number */
  CHECK_MSG (b.t_done - t0 < PROMPT_S, "the blocked submit took %.3f s to wake", b.t_done - t0);
  for (uint32_t i = 1; i < 5; i++) {
    CHECK_EQ_I (rk_actor_receive (a, &ans, 5 * SEC), 0);
    CHECK_EQ_U (ans.rec.seq, i);
    CHECK_EQ_U (ans.rec.status, RK_STATUS_OK);
    memcpy (&v, rk_answer_data (&ans), 4);
    CHECK_EQ_U (v, i < 4 ? i : 0xfeedu);
    rk_actor_release_output (a, ans.out_token);
  }
  CHECK_EQ_U (rk_actor_in_flight (a), 0);
  CHECK_EQ_I (rk_actor_receive (a, &ans, 0), -ETIMEDOUT);

  SECTION ("interrupt: a blocked receive (no timeout) returns -EINTR promptly");
  {
    blocked_receive br;
    memset (&br, 0, sizeof br);
    br.a = a;
    CHECK_EQ_I (pthread_create (&t, NULL, blocked_receive_main, &br), 0);
    while (!atomic_load (&br.started))
      usleep (1000);
    usleep (20000);
    CHECK_MSG (!atomic_load (&br.done), "a receive with nothing to receive returned %d", br.result);
    t0 = rk_test_now_s ();
    rk_actor_interrupt (a, true);
    CHECK_EQ_I (pthread_join (t, NULL), 0);
    CHECK_EQ_I (br.result, -EINTR);
    CHECK_MSG (br.t_done - t0 < PROMPT_S, "interrupt took %.3f s", br.t_done - t0);
    rk_actor_interrupt (a, false);
  }

  SECTION ("a receive that also watches a word: -EAGAIN promptly when it changes and its writer wakes "
           "the receiver, an answer when one comes first; nothing is lost either way");
  {
    blocked_receive br;
    _Alignas (4) static uint32_t word = 7;
    for (int round = 0; round < 2; round++) {
      memset (&br, 0, sizeof br);
      br.a = a;
      br.word = &word;
      br.seen = word;
      CHECK_EQ_I (pthread_create (&t, NULL, blocked_receive_main, &br), 0);
      while (!atomic_load (&br.started))
        usleep (1000);
      usleep (20000); /* asleep by now */
      CHECK_MSG (!atomic_load (&br.done), "a receive with nothing to receive returned %d", br.result);
      t0 = rk_test_now_s ();
      if (round == 0) {
        __atomic_store_n (&word, word + 1, __ATOMIC_RELEASE);
        rk_actor_wake_receiver (a);
      } else {
        rec = (rk_record) { .type = RK_CMD_PROCESS };
        v = 55;
        CHECK_EQ_I (rk_actor_submit (a, &rec, &v, sizeof v, sizeof v, 5 * SEC), 0);
      }
      CHECK_EQ_I (pthread_join (t, NULL), 0);
      CHECK_EQ_I (br.result, round == 0 ? -EAGAIN : 0);
      CHECK_MSG (br.t_done - t0 < PROMPT_S, "the receive took %.3f s to return", br.t_done - t0);
      if (round == 1) {
        CHECK_EQ_U (br.ans.rec.seq, 5);
        memcpy (&v, rk_answer_data (&br.ans), 4);
        CHECK_EQ_U (v, 55);
        rk_actor_release_output (a, br.ans.out_token);
      }
    }
    /* a word that changed before the wait began, nothing to receive: -EAGAIN at once, no timeout
     * needed; an answer there already is taken whatever the word says */
    CHECK_EQ_I (rk_actor_receive_unless (a, &ans, -1, &word, word - 1), -EAGAIN);
    rec = (rk_record) { .type = RK_CMD_PROCESS };
    CHECK_EQ_I (rk_actor_submit (a, &rec, &v, sizeof v, sizeof v, 5 * SEC), 0);
    while (rk_actor_in_flight (a)
        && rk_actor_receive_unless (a, &ans, 5 * SEC, &word, word - 1) == -EAGAIN)
      ; /* until the answer is there */
    CHECK_EQ_U (rk_actor_in_flight (a), 0);
    CHECK_EQ_U (ans.rec.seq, 6);
    rk_actor_release_output (a, ans.out_token);
  }
  /* the actor is unharmed */
  rec = (rk_record) { .type = RK_CMD_PROCESS };
  v = 77;
  CHECK_EQ_I (rk_actor_submit (a, &rec, &v, sizeof v, sizeof v, 5 * SEC), 0);
  CHECK_EQ_I (rk_actor_receive (a, &ans, 5 * SEC), 0);
  CHECK_EQ_U (ans.rec.seq, 7);
  memcpy (&v, rk_answer_data (&ans), 4);
  CHECK_EQ_U (v, 77);
  CHECK_EQ_I (rk_actor_stop (a, 5 * SEC), 0);
  rk_actor_unref (a);
}

/* ---- two-thread stress ---- */

#define STRESS_RECORDS 1000000u

typedef struct stress {
  rk_actor *a;
  uint32_t n;
  uint64_t submit_ns; /* producer's time in rk_actor_submit */
} stress;

/* The payload of record i: 0..32 bytes derived from i (the length too). */
static uint32_t
stress_payload (uint32_t i, uint8_t *p)
{
  uint32_t len = (i * 7u) % (RK_INLINE_MAX + 1);
  uint64_t h = (uint64_t) i * UINT64_C (0x9e3779b97f4a7c15);
  for (uint32_t k = 0; k < len; k++)
    p[k] = (uint8_t) (h >> (8 * (k % 8))) ^ (uint8_t) k;
  return len;
}

static void *
stress_producer (void *arg)
{
  stress *s = arg;
  uint8_t p[RK_INLINE_MAX];
  for (uint32_t i = 0; i < s->n; i++) {
    rk_record rec = { .type = RK_CMD_PROCESS };
    uint32_t len = stress_payload (i, p);
    int r = rk_actor_submit (s->a, &rec, p, len, len, 10 * SEC);
    CHECK_MSG (r == 0, "submit %u: %d", i, r);
    CHECK_EQ_U (rec.seq, i);
  }
  return NULL;
}

static void *
stress_consumer (void *arg)
{
  stress *s = arg;
  uint8_t p[RK_INLINE_MAX];
  uint64_t last_hlc = 0;
  for (uint32_t i = 0; i < s->n; i++) {
    rk_answer ans;
    int r = rk_actor_receive (s->a, &ans, 10 * SEC);
    CHECK_MSG (r == 0, "receive %u: %d", i, r);
    CHECK_MSG (ans.rec.seq == i, "answer %u carries seq %" PRIu64, i, ans.rec.seq);
    CHECK_EQ_U (ans.rec.type, RK_CMD_PROCESS);
    CHECK_EQ_U (ans.rec.status, RK_STATUS_OK);
    CHECK (ans.rec.flags & RK_REC_F_INLINE);
    CHECK_GT_U (ans.rec.hlc, last_hlc);
    last_hlc = ans.rec.hlc;
    uint32_t len = stress_payload (i, p);
    CHECK_EQ_U (ans.rec.len, len);
    CHECK_MSG (memcmp (rk_answer_data (&ans), p, len) == 0, "answer %u: wrong payload", i);
    CHECK_EQ_U (ans.out_token, 0);
  }
  return NULL;
}

static void
test_stress (uint32_t entries)
{
  char name[96];
  snprintf (name, sizeof name, "stress: 1 M echo records, producer and consumer threads, ring of %u",
      entries);
  SECTION (name);
  stress s = { .a = new_actor ("echo", entries, MIB), .n = STRESS_RECORDS };
  pthread_t pt, ct;
  double t0 = rk_test_now_s ();
  CHECK_EQ_I (pthread_create (&ct, NULL, stress_consumer, &s), 0);
  CHECK_EQ_I (pthread_create (&pt, NULL, stress_producer, &s), 0);
  CHECK_EQ_I (pthread_join (pt, NULL), 0);
  CHECK_EQ_I (pthread_join (ct, NULL), 0);
  double dt = rk_test_now_s () - t0;
  CHECK_EQ_U (rk_actor_in_flight (s.a), 0);
  const rk_control *ctl = rk_actor_control (s.a);
  CHECK_EQ_U (rk_load_relaxed64 (&ctl->records_in), STRESS_RECORDS);
  CHECK_EQ_U (rk_load_relaxed64 (&ctl->errors), 0);
  printf ("  %u records in %.3f s: %.0f k records/s round trip; ring high water %u of %u\n", s.n, dt,
      s.n / dt / 1e3, rk_actor_ring_high_water (s.a), entries);
  CHECK_EQ_I (rk_actor_stop (s.a, 5 * SEC), 0);
  rk_actor_unref (s.a);
}

/* ---- batches ---- */

static void
test_batches (void)
{
  SECTION ("batches: n records in one publication, answered one by one, regions handed back once");
  const uint32_t entries = 16, lens[] = { 0, 8, 32, 64, 100 };
  rk_actor *a = new_actor ("echo", entries, MIB);
  uint8_t payload[16 * 100];
  rk_record rec = { .type = RK_CMD_PROCESS };

  CHECK_EQ_I (rk_actor_submit_batch (a, &rec, 0, payload, 8, 8, SEC), -EINVAL);
  CHECK_EQ_I (rk_actor_submit_batch (a, &rec, entries + 1, payload, 8, 8, SEC), -EMSGSIZE);
  uint64_t next = 0;
  for (int it = 0; it < 300; it++) {
    uint32_t n = 1 + (uint32_t) rk_test_below (&rng, entries);
    uint32_t len = lens[rk_test_below (&rng, 5)];
    for (uint32_t k = 0; k < n * len; k++)
      payload[k] = (uint8_t) rk_test_next (&rng);
    rec = (rk_record) { .type = RK_CMD_PROCESS, .node = HOST_NODE, .hlc = next + 1 };
    CHECK_EQ_I (rk_actor_submit_batch (a, &rec, n, payload, len, len, SEC), 0);
    CHECK_EQ_U (rec.seq, next);
    CHECK_EQ_U (rk_actor_in_flight (a), n);
    rk_answer got[16];
    uint32_t have = 0;
    if (it % 2) {
      /* half the batches come back through rk_actor_receive_batch, in pieces of random size */
      while (have < n) {
        int k = rk_actor_receive_batch (a, got + have, 1 + (uint32_t) rk_test_below (&rng, n), SEC);
        CHECK_MSG (k > 0 && have + (uint32_t) k <= n, "receive_batch: %d", k);
        have += (uint32_t) k;
      }
    }
    for (uint32_t i = 0; i < n; i++) {
      rk_answer ans;
      if (it % 2)
        ans = got[i];
      else
        CHECK_EQ_I (rk_actor_receive (a, &ans, SEC), 0);
      CHECK_EQ_U (ans.rec.seq, next + i);
      CHECK_EQ_U (ans.rec.status, RK_STATUS_OK);
      CHECK_EQ_U (ans.rec.len, len);
      CHECK_MSG (len == 0 || memcmp (rk_answer_data (&ans), payload + i * len, len) == 0,
          "batch %d record %u (%u bytes): wrong payload", it, i, len);
      /* a batch in the arena: only its last answer carries the output region's token */
      CHECK_EQ_I (ans.out_token != 0, len > RK_INLINE_MAX && i == n - 1);
      rk_actor_release_output (a, ans.out_token);
    }
    next += n;
  }
  /* every region went back: a batch of the whole arena's worth fits again (once the actor has handed
   * back the ring's slots, which it does just after it publishes the answers) */
  rec = (rk_record) { .type = RK_CMD_PROCESS };
  static uint8_t big[16 * 65536];
  CHECK_EQ_I (rk_actor_submit_batch (a, &rec, 16, big, 65536, 65536, SEC), 0);
  for (uint32_t i = 0; i < 16; i++) {
    rk_answer ans;
    CHECK_EQ_I (rk_actor_receive (a, &ans, SEC), 0);
    rk_actor_release_output (a, ans.out_token);
  }
  CHECK_EQ_I (rk_actor_stop (a, 5 * SEC), 0);
  rk_actor_unref (a);
}

/* ---- K2K links between actors ---- */

static void
set_param (rk_actor *a, uint32_t i, double v)
{
  rk_record rec = { .type = RK_CMD_SET_PARAM };
  rec.u.desc.aux = i;
  memcpy (&rec.u.desc.arg, &v, sizeof v);
  CHECK_EQ_I (rk_actor_submit (a, &rec, NULL, 0, 0, SEC), 0);
  rk_answer ans;
  CHECK_EQ_I (rk_actor_receive (a, &ans, SEC), 0);
  CHECK_EQ_U (ans.rec.status, RK_STATUS_OK);
}

/* Link a[i] to a[i + 1] for every i, hop i by paths[i]; the consumer then reads that path's inbox
 * (RK_CMD_INBOX). paths NULL: every hop on the device, and the consumers read the inbox they have. */
static void
link_chain_paths (rk_actor **a, int n, const rk_link_path *paths)
{
  for (int i = 0; i + 1 < n; i++) {
    rk_route rt;
    rk_answer ans;
    CHECK (rk_actor_inbox_route (a[i + 1], paths ? paths[i] : RK_LINK_DEVICE, (uint32_t) i + 1, &rt));
    CHECK_EQ_U (rt.flags, paths && paths[i] != RK_LINK_DEVICE ? RK_ROUTE_F_SYSTEM : 0);
    rk_route own;
    CHECK (rk_actor_inbox_route (a[i + 1], RK_LINK_DEVICE, 0, &own));
    /* the staged inbox is memory of its own, not the device inbox flagged otherwise */
    CHECK_EQ_I (rt.inbox_addr == own.inbox_addr, !paths || paths[i] == RK_LINK_DEVICE);
    CHECK_EQ_I (rt.arena_addr == own.arena_addr, !paths || paths[i] == RK_LINK_DEVICE);
    if (paths) {
      rk_record rec = { 0 };
      CHECK_EQ_I (rk_actor_submit_inbox (a[i + 1], &rec, &rt, SEC), 0);
      CHECK_EQ_I (rk_actor_receive (a[i + 1], &ans, SEC), 0);
      CHECK_EQ_U (ans.rec.type, RK_CMD_INBOX);
      CHECK_EQ_U (ans.rec.status, RK_STATUS_OK);
    }
    rk_record rec = { 0 };
    CHECK_EQ_I (rk_actor_submit_link (a[i], &rec, &rt, SEC), 0);
    CHECK_EQ_I (rk_actor_receive (a[i], &ans, SEC), 0);
    CHECK_EQ_U (ans.rec.type, RK_CMD_LINK);
    CHECK_EQ_U (ans.rec.status, RK_STATUS_OK);
  }
}

static void
link_chain (rk_actor **a, int n)
{
  link_chain_paths (a, n, NULL);
}

/* Submit link record `seq` (n floats of x) to actor i of a chain of `len`. */
static int
submit_hop (rk_actor **a, int i, int len, uint64_t seq, const float *x, uint32_t bytes, int64_t timeout)
{
  rk_record rec = { .type = RK_CMD_PROCESS, .node = HOST_NODE };
  rec.flags = (i > 0 ? RK_REC_F_FROM_INBOX : 0) | (i + 1 < len ? RK_REC_F_TO_ROUTE : 0);
  rec.u.desc.in_off = seq;
  rec.u.desc.out_off = seq;
  return rk_actor_submit (a[i], &rec, i > 0 ? NULL : x, bytes, i + 1 < len ? 0 : bytes, timeout);
}

/* The answer of actor i for one link record: routed (no payload) or, at the end, the output. */
static void
expect_hop (rk_actor *a, bool last, uint32_t bytes, const float *want, const char *what)
{
  rk_answer ans;
  CHECK_EQ_I (rk_actor_receive (a, &ans, 5 * SEC), 0);
  CHECK_MSG (ans.rec.status == RK_STATUS_OK, "%s: status %s", what, rk_status_name (ans.rec.status));
  CHECK_EQ_U (ans.rec.len, bytes);
  CHECK_EQ_I (!!(ans.rec.flags & RK_REC_F_TO_ROUTE), !last);
  if (last)
    CHECK_MSG (bytes == 0 || memcmp (rk_answer_data (&ans), want, bytes) == 0, "%s: wrong output", what);
  else
    CHECK (ans.out == NULL && ans.out_token == 0);
  rk_actor_release_output (a, ans.out_token);
}

/* Buffers first..first+n through the chain a[0..len), WINDOW in flight, each checked against the
 * composition of the handlers' C code. */
static void
run_chain (rk_actor **a, const rk_handler **h, double (*p)[RK_MAX_PARAMS], int len, int first, int n)
{
  enum { MAXN = 2048, WINDOW = 8 };
  static float x[WINDOW][MAXN], want[WINDOW][MAXN], tmp[MAXN];
  uint32_t bytes[WINDOW];

  for (int b = first; b < first + n + WINDOW; b++) {
    if (b >= first + WINDOW) { /* answers of buffer b - WINDOW, from every actor */
      int w = (b - WINDOW) % WINDOW;
      for (int i = 0; i < len; i++)
        expect_hop (a[i], i == len - 1, bytes[w], want[w], h[i]->name);
    }
    if (b >= first + n)
      continue;
    int w = b % WINDOW;
    uint32_t m = (uint32_t) rk_test_below (&rng, MAXN + 1);
    if (b % 50 == 0)
      m = 0; /* an empty array goes through too */
    for (uint32_t k = 0; k < m; k++)
      x[w][k] = (float) rk_test_uniform (&rng, -100.0, 100.0);
    bytes[w] = m * 4;
    /* the reference: every handler's C code in turn */
    memcpy (want[w], x[w], bytes[w]);
    for (int i = 0; i < len; i++) {
      uint32_t out_len = 0;
      CHECK_EQ_U (h[i]->process (NULL, p[i], (const uint8_t *) want[w], bytes[w], (uint8_t *) tmp,
                      bytes[w], &out_len), RK_STATUS_OK);
      memcpy (want[w], tmp, out_len);
    }
    for (int i = 0; i < len; i++)
      CHECK_EQ_I (submit_hop (a, i, len, 1000 + (uint64_t) b, x[w], bytes[w], SEC), 0);
  }
}

static void
test_links_chain (int len)
{
  enum { BUFS = 300 };
  const char *kinds[] = { "stencil", "scale", "echo" };
  rk_actor *a[8];
  const rk_handler *h[8];
  double p[8][RK_MAX_PARAMS];
  rk_link_path paths[8] = { RK_LINK_HOST };

  SECTION ("K2K: a chain of actors gives the composition of the C references");
  printf ("chain of %d\n", len);
  for (int i = 0; i < len; i++) {
    h[i] = rk_handler_find (kinds[rk_test_below (&rng, 3)]);
    /* small inboxes: the producers wait for room, and payloads wrap around the inbox arena */
    a[i] = new_actor_with_inbox (h[i]->name, 16, MIB, 64 * 1024);
    rk_handler_default_params (h[i], p[i]);
    for (uint32_t k = 0; k < h[i]->n_params; k++) {
      p[i][k] = rk_test_uniform (&rng, -1.5, 1.5);
      set_param (a[i], k, p[i][k]);
    }
  }
  link_chain (a, len);
  run_chain (a, h, p, len, 0, BUFS / 3);

  SECTION ("K2K: the chain goes on with its hops moved between the device inbox and the staged one");
  for (int i = 0; i + 1 < len; i++)
    paths[i] = rk_test_below (&rng, 2) ? RK_LINK_STAGED : RK_LINK_DEVICE;
  link_chain_paths (a, len, paths);
  run_chain (a, h, p, len, BUFS / 3, BUFS / 3);
  for (int i = 0; i + 1 < len; i++)
    paths[i] = paths[i] == RK_LINK_STAGED ? RK_LINK_DEVICE : RK_LINK_STAGED;
  link_chain_paths (a, len, paths);
  run_chain (a, h, p, len, 2 * (BUFS / 3), BUFS - 2 * (BUFS / 3));

  for (int i = 0; i < len; i++) {
    const rk_control *ctl = rk_actor_control (a[i]);
    CHECK_EQ_U (rk_load_relaxed64 (&ctl->routed_out), i + 1 < len ? BUFS : 0);
    CHECK_EQ_U (rk_load_relaxed64 (&ctl->routed_in), i > 0 ? BUFS : 0);
    CHECK_EQ_U (rk_load_relaxed64 (&ctl->skipped_in), 0);
  }
  for (int i = 0; i < len; i++) {
    CHECK_EQ_I (rk_actor_stop (a[i], 5 * SEC), 0);
    rk_actor_unref (a[i]);
  }
}

/* The choice of a link's path, for every combination of what decides it. */
static void
test_link_choose (void)
{
  const unsigned dev = 1u << RK_LINK_DEVICE, peer = 1u << RK_LINK_PEER, staged = 1u << RK_LINK_STAGED;
  const struct {
    bool same_backend, inbox, same_device, force;
    unsigned paths;
    int peer;
    rk_link_path want;
  } cases[] = {
    { true, true, true, false, dev | peer | staged, 0, RK_LINK_DEVICE },
    { true, true, true, false, dev, -ENOTSUP, RK_LINK_DEVICE },
    { false, true, true, false, dev | peer | staged, 0, RK_LINK_HOST },
    { true, false, true, false, dev | peer | staged, 0, RK_LINK_HOST },
    { true, true, false, false, dev | peer | staged, 0, RK_LINK_PEER },
    { true, true, false, false, dev | peer | staged, -ENOTSUP, RK_LINK_STAGED },
    { true, true, false, false, dev | staged, 0, RK_LINK_STAGED },
    { true, true, false, false, dev | peer, -ENOTSUP, RK_LINK_HOST },
    { true, true, false, false, dev, 0, RK_LINK_HOST },
    { true, true, true, true, dev | peer | staged, 0, RK_LINK_STAGED },
    { true, true, false, true, dev | peer | staged, 0, RK_LINK_STAGED },
    { true, true, true, true, dev, 0, RK_LINK_HOST },
    { false, true, true, true, dev | staged, 0, RK_LINK_HOST },
    { true, false, false, true, dev | staged, 0, RK_LINK_HOST },
  };

  SECTION ("K2K: the path between two actors: device, peer, staged or host, and why");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rk_link_facts f = { cases[i].same_backend, cases[i].inbox, cases[i].same_device, cases[i].force,
      cases[i].paths, cases[i].peer };
    char why[200] = "";
    rk_link_path got = rk_link_choose (&f, why, sizeof why);
    CHECK_MSG (got == cases[i].want, "case %zu: %s, want %s (%s)", i, rk_link_path_name (got),
        rk_link_path_name (cases[i].want), why);
    CHECK_MSG (why[0] != '\0', "case %zu: no reason given", i);
  }
  CHECK (strcmp (rk_link_path_name (RK_LINK_STAGED), "staged") == 0);
  CHECK (strcmp (rk_link_path_name (RK_LINK_PATH_COUNT_), "invalid") == 0);

  /* the same for real actors of the CPU backend (one device: device, or staged when asked) */
  rk_actor *up = new_actor_with_inbox ("echo", 16, MIB, 64 * 1024);
  rk_actor *down = new_actor_with_inbox ("echo", 16, MIB, 64 * 1024);
  rk_actor *plain = new_actor ("echo", 16, MIB);
  char why[200];
  CHECK_EQ_I (rk_actor_link_path (up, down, false, why, sizeof why), RK_LINK_DEVICE);
  CHECK_EQ_I (rk_actor_link_path (up, down, true, why, sizeof why), RK_LINK_STAGED);
  CHECK_EQ_I (rk_actor_link_path (up, plain, false, why, sizeof why), RK_LINK_HOST);
  CHECK (strstr (why, "no inbox") != NULL);
  rk_route rt;
  CHECK (!rk_actor_inbox_route (plain, RK_LINK_DEVICE, 1, &rt));
  CHECK (!rk_actor_inbox_route (down, RK_LINK_PEER, 1, &rt)); /* not a path of the CPU backend */
  CHECK (!rk_actor_inbox_route (down, RK_LINK_HOST, 1, &rt));

  SECTION ("K2K: RK_CMD_INBOX is refused by an actor without an inbox, and for a bad inbox");
  rk_answer ans;
  rk_record rec = { 0 };
  CHECK (rk_actor_inbox_route (down, RK_LINK_STAGED, 1, &rt));
  CHECK_EQ_I (rk_actor_submit_inbox (plain, &rec, &rt, SEC), 0);
  CHECK_EQ_I (rk_actor_receive (plain, &ans, SEC), 0);
  CHECK_EQ_U (ans.rec.status, RK_STATUS_UNSUPPORTED);
  rk_route bad = rt;
  bad.flags = 2;
  CHECK_EQ_I (rk_actor_submit_inbox (down, &rec, &bad, SEC), 0);
  CHECK_EQ_I (rk_actor_receive (down, &ans, SEC), 0);
  CHECK_EQ_U (ans.rec.status, RK_STATUS_INVALID);
  bad = rt;
  bad.inbox_addr = 0;
  CHECK_EQ_I (rk_actor_submit_inbox (down, &rec, &bad, SEC), 0);
  CHECK_EQ_I (rk_actor_receive (down, &ans, SEC), 0);
  CHECK_EQ_U (ans.rec.status, RK_STATUS_INVALID);
  rk_actor *all[] = { up, down, plain };
  for (int i = 0; i < 3; i++) {
    CHECK_EQ_I (rk_actor_stop (all[i], 5 * SEC), 0);
    rk_actor_unref (all[i]);
  }
}

static void
test_links_edges (void)
{
  float x[64];
  rk_answer ans;
  for (int k = 0; k < 64; k++)
    x[k] = (float) k;

  SECTION ("K2K: records nobody asks for are skipped; a missing one is CANCELLED, not waited for");
  {
    rk_actor *a[2] = { new_actor_with_inbox ("echo", 16, MIB, 64 * 1024),
      new_actor_with_inbox ("echo", 16, MIB, 64 * 1024) };
    link_chain (a, 2);
    /* link records 1..3 go down the link; downstream asks for 3 only (1 and 2 were "flushed") */
    for (uint64_t s = 1; s <= 3; s++) {
      CHECK_EQ_I (submit_hop (a, 0, 2, s, x, 64, SEC), 0);
      expect_hop (a[0], false, 64, NULL, "upstream");
    }
    CHECK_EQ_I (submit_hop (a, 1, 2, 3, NULL, 64, SEC), 0);
    expect_hop (a[1], true, 64, x, "downstream");
    CHECK_EQ_U (rk_load_relaxed64 (&rk_actor_control (a[1])->skipped_in), 2);
    /* 5 arrives, 4 never will: asking for 4 is answered CANCELLED, and 5 is still served */
    CHECK_EQ_I (submit_hop (a, 0, 2, 5, x, 64, SEC), 0);
    expect_hop (a[0], false, 64, NULL, "upstream");
    CHECK_EQ_I (submit_hop (a, 1, 2, 4, NULL, 64, SEC), 0);
    CHECK_EQ_I (rk_actor_receive (a[1], &ans, SEC), 0);
    CHECK_EQ_U (ans.rec.status, RK_STATUS_CANCELLED);
    CHECK_EQ_I (submit_hop (a, 1, 2, 5, NULL, 64, SEC), 0);
    expect_hop (a[1], true, 64, x, "downstream");

    SECTION ("K2K: a wait for data that never comes ends when the host cancels it");
    CHECK_EQ_I (submit_hop (a, 1, 2, 6, NULL, 64, SEC), 0);
    CHECK_EQ_I (rk_actor_receive (a[1], &ans, 50 * MS), -ETIMEDOUT);
    double t0 = rk_test_now_s ();
    rk_actor_cancel_links (a[1]);
    CHECK_EQ_I (rk_actor_receive (a[1], &ans, SEC), 0);
    CHECK_EQ_U (ans.rec.status, RK_STATUS_CANCELLED);
    CHECK_MSG (rk_test_now_s () - t0 < 0.5, "cancel took %.3f s", rk_test_now_s () - t0);
    /* later records are not cancelled */
    CHECK_EQ_I (submit_hop (a, 0, 2, 7, x, 64, SEC), 0);
    expect_hop (a[0], false, 64, NULL, "upstream");
    CHECK_EQ_I (submit_hop (a, 1, 2, 7, NULL, 64, SEC), 0);
    expect_hop (a[1], true, 64, x, "downstream");

    SECTION ("K2K: an error upstream travels down the link as an error");
    CHECK_EQ_I (submit_hop (a, 0, 2, 8, x, 64, SEC), 0);
    expect_hop (a[0], false, 64, NULL, "upstream");
    CHECK_EQ_I (submit_hop (a, 1, 2, 8, NULL, 32, SEC), 0); /* room for 32 bytes, 64 come */
    CHECK_EQ_I (rk_actor_receive (a[1], &ans, SEC), 0);
    CHECK_EQ_U (ans.rec.status, RK_STATUS_TOO_LARGE);

    SECTION ("K2K: once the consumer has stopped, the producer forwards nothing: CLOSED");
    CHECK_EQ_I (rk_actor_stop (a[1], 5 * SEC), 0);
    CHECK_EQ_I (submit_hop (a, 0, 2, 9, x, 64, SEC), 0);
    CHECK_EQ_I (rk_actor_receive (a[0], &ans, SEC), 0);
    CHECK_EQ_U (ans.rec.status, RK_STATUS_CLOSED);
    /* removing the route: forwarding is refused as NO_ROUTE */
    rk_record rec = { 0 };
    CHECK_EQ_I (rk_actor_submit_link (a[0], &rec, NULL, SEC), 0);
    CHECK_EQ_I (rk_actor_receive (a[0], &ans, SEC), 0);
    CHECK_EQ_U (ans.rec.status, RK_STATUS_OK);
    CHECK_EQ_I (submit_hop (a, 0, 2, 10, x, 64, SEC), 0);
    CHECK_EQ_I (rk_actor_receive (a[0], &ans, SEC), 0);
    CHECK_EQ_U (ans.rec.status, RK_STATUS_NO_ROUTE);
    CHECK_EQ_I (rk_actor_stop (a[0], 5 * SEC), 0);
    rk_actor_unref (a[0]);
    rk_actor_unref (a[1]);
  }

  SECTION ("K2K: a full inbox stalls the producer; the consumer drains it; nothing lost");
  {
    /* an inbox of 4 slots and 4 KiB: 64 records of 1 KiB must wait for room many times */
    rk_actor *a[2] = { new_actor_with_inbox ("echo", 64, MIB, 4096),
      new_actor_with_inbox ("echo", 4, MIB, 4096) };
    static float big[64][256];
    link_chain (a, 2);
    for (int s = 0; s < 64; s++) {
      for (int k = 0; k < 256; k++)
        big[s][k] = (float) (s * 1000 + k);
      CHECK_EQ_I (submit_hop (a, 0, 2, (uint64_t) s, big[s], 1024, SEC), 0);
    }
    usleep (20000);
    /* the producer has forwarded at most what the inbox holds */
    CHECK (rk_load_relaxed64 (&rk_actor_control (a[0])->routed_out) <= 4);
    for (int s = 0; s < 64; s++) {
      CHECK_EQ_I (submit_hop (a, 1, 2, (uint64_t) s, NULL, 1024, SEC), 0);
      expect_hop (a[1], true, 1024, big[s], "slow consumer");
    }
    for (int s = 0; s < 64; s++)
      expect_hop (a[0], false, 1024, NULL, "producer");
    for (int i = 0; i < 2; i++) {
      CHECK_EQ_I (rk_actor_stop (a[i], 5 * SEC), 0);
      rk_actor_unref (a[i]);
    }
  }
}

/* ---- no leaked threads ---- */

static int
count_threads (void)
{
  DIR *d = opendir ("/proc/self/task");
  CHECK (d != NULL);
  int n = 0;
  struct dirent *e;
  while ((e = readdir (d)))
    if (e->d_name[0] != '.')
      n++;
  closedir (d);
  return n;
}

/* The thread count once it settles at `expected`: a joined thread can stay listed in /proc for a moment
 * after pthread_join () returns (the kernel clears the tid that join waits for before the task is
 * reaped), so poll for up to 2 s. A leaked thread never goes away. */
static int
threads_settle (int expected)
{
  int n = count_threads ();
  for (int i = 0; i < 2000 && n != expected; i++) {
    usleep (1000);
    n = count_threads ();
  }
  return n;
}

static void
test_many_actors (void)
{
  SECTION ("200 actors started and stopped in a row: no thread left behind");
  /* every thread of the earlier tests was joined: normally only the main thread is left */
  int base = threads_settle (1);
  double t0 = rk_test_now_s ();
  for (int i = 0; i < 200; i++) {
    rk_actor *a = new_actor (i % 3 == 0 ? "scale" : "echo", 8, MIB);
    /* the actor is a thread of this process while it runs */
    CHECK_EQ_I (threads_settle (base + 1), base + 1);
    rk_record rec = { .type = RK_CMD_PROCESS };
    float v = (float) i;
    CHECK_EQ_I (rk_actor_submit (a, &rec, &v, 4, 4, 5 * SEC), 0);
    rk_answer ans;
    CHECK_EQ_I (rk_actor_receive (a, &ans, 5 * SEC), 0);
    CHECK_EQ_U (ans.rec.status, RK_STATUS_OK);
    if (i % 2 == 0) {
      /* stopped explicitly */
      CHECK_EQ_I (rk_actor_stop (a, 5 * SEC), 0);
      CHECK_EQ_U (actor_state (a), RK_STATE_TERMINATED);
      CHECK_EQ_I (threads_settle (base), base);
    } else if (i % 4 == 1) {
      /* with a record in flight, the last reference dropped: the actor is stopped for us */
      CHECK_EQ_I (rk_actor_submit (a, &rec, &v, 4, 4, 5 * SEC), 0);
    }
    rk_actor_unref (a);
    CHECK_EQ_I (threads_settle (base), base);
  }
  CHECK_EQ_I (threads_settle (base), base);
  printf ("  200 actors in %.3f s\n", rk_test_now_s () - t0);
}

int
main (void)
{
  rng.s = rk_test_seed ("test_actor_cpu");
  test_commands_scale ();
  test_snapshot_restore ();
  test_backpressure ();
  test_stress (64);
  test_batches ();
  for (int len = 1; len <= 8; len *= 2)
    test_links_chain (len);
  test_link_choose ();
  test_links_edges ();
  test_many_actors ();
  printf ("test_actor_cpu: all checks passed\n");
  return 0;
}
