/* The CUDA backend against the C reference, on the GPU. Exits 77 (skip) without a usable device.
 *
 * For both modes (persistent kernel, launch per record): every handler on fresh random input at sizes
 * that take each path (inline in the record, one block, the whole grid), compared bit for bit with
 * core/'s reference; the command set (set-param, pause, resume, drain, snapshot, restore, terminate,
 * link and unknown commands refused with their status); and checkpoints moved between the CUDA and the
 * CPU backends. The device's view of the ABI layout is compared with the host's.
 */
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rk_actor.h"
#include "rk_ref_actor.h"
#include "rk_backend.h"
#include "rk_barrier.h"
#include "rk_ll.h"
#include "rk_cuda.h"
#include "rk_handlers.h"
#include "rk_hlc.h"
#include "gpu_test.h"
#include "spectrum_check.h"
#include "wave_check.h"



/* An actor with a ring of 16, arenas of `arena` bytes and, if inbox > 0, a K2K inbox of that many. */
static rk_actor *
start_with (const rk_backend_ops *ops, rk_actor_mode mode, const char *kernel, uint64_t arena,
    uint64_t inbox)
{
  char why[512] = "";
  rk_actor *a = actor_new (ops, mode, kernel, arena, inbox, why, sizeof why);
  CHECK (a != NULL, "rk_actor_new (%s, %s): %s", ops->name, kernel, why);
  return a;
}

static rk_actor *
start (const rk_backend_ops *ops, rk_actor_mode mode, const char *kernel)
{
  return start_with (ops, mode, kernel, 64 << 20, 0);
}

/* The reference's state (malloc'd, or NULL if the handler has none), initialised, and its default
 * parameters in params[]. */
static void *
reference_new (const rk_handler *h, double *params)
{
  rk_handler_default_params (h, params);
  void *state = h->state_size ? malloc (h->state_size) : NULL;
  if (h->init)
    h->init (state, params);
  return state;
}

static const uint32_t sizes[] = { 16, 32, 64, 4096, 65532, 65536, 1 << 20, 4 << 20 };

/* An actor of handler h with random parameters, set on it and in params, and the reference's state
 * for them (*ref_state, the caller's to free). NULL if it does not start. */
static rk_actor *
start_random (const rk_backend_ops *ops, rk_actor_mode mode, const rk_handler *h, double *params,
    void **ref_state)
{
  rk_actor *a = start (ops, mode, h->name);
  if (!a)
    return NULL;
  *ref_state = reference_new (h, params);
  for (uint32_t i = 0; i < h->n_params; i++) {
    params[i] = rnd_float ();
    set_param (a, i, params[i], RK_STATUS_OK);
  }
  return a;
}

static void
test_handlers (const rk_backend_ops *ops, rk_actor_mode mode, const char *label)
{
  for (unsigned k = 0; k < rk_handler_count (); k++) {
    const rk_handler *h = rk_handler_at (k);
    if (!h->caps)
      continue; /* driven by its own element's commands: tested on its own */
    double params[RK_MAX_PARAMS];
    void *ref_state = NULL;
    rk_actor *a = start_random (ops, mode, h, params, &ref_state);
    if (!a)
      continue;
    for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      /* accumulate sees each length three times (the sums restart when the length changes) */
      int reps = h->id == RK_KERNEL_ACCUMULATE ? 3 : 1;
      for (int r = 0; r < reps; r++)
        process_and_compare (a, h, ref_state, params, sizes[s], label);
    }
    const rk_control *ctl = rk_actor_control (a);
    CHECK (rk_actor_stop (a, TIMEOUT) == 0, "%s %s: stop", label, h->name);
    CHECK (ctl->state == RK_STATE_TERMINATED, "%s %s: state %s after stop", label, h->name,
        rk_state_name (ctl->state));
    rk_actor_unref (a);
    free (ref_state);
  }
}

/* One answer against the reference stepped with the same message (a length that is not a multiple of
 * the handler's unit is refused before the handler sees it, as rk_ref_actor_serve () does). */
static void
check_answer (const rk_handler *h, void *ref_state, const double *params, const uint8_t *msg, uint32_t len,
    const rk_answer *ans, uint64_t seq, const char *what)
{
  uint8_t want[4096];
  uint32_t want_len = 0;
  const uint32_t st = len % h->unit ? RK_STATUS_INVALID
                                    : h->process (ref_state, params, msg, len, want, len, &want_len);
  CHECK (ans->rec.seq == seq && ans->rec.status == st && !(ans->rec.flags & RK_REC_F_ERROR) == !st
          && ans->rec.len == (st ? 0 : want_len),
      "%s: seq %llu (want %llu) status %u (want %u) len %u", what, (unsigned long long) ans->rec.seq,
      (unsigned long long) seq, ans->rec.status, st, ans->rec.len);
  CHECK (st || memcmp (rk_answer_data (ans), want, want_len) == 0, "%s: differs from the reference", what);
}

/* Batches (rk_actor_submit_batch): n messages in one publication, each served as its own record (warp
 * by warp when small), each answer compared with the reference stepped message by message. Up to 64
 * messages (what the CUDA actor reads in one round trip) on a ring of 128, so that a read also finds
 * the start of the next batch; 20-byte messages lie in the arena at offsets that are not all 16-byte
 * aligned, and 64 of 1024 bytes do not all fit the CUDA actor's stage. Then failed records inside a run:
 * batches of good, bad (a length that is not a multiple of the handler's unit) and good messages
 * published at once, with the actor's error count and last error. */
static void
test_batches (const rk_backend_ops *ops, rk_actor_mode mode, const char *label)
{
  static const uint32_t lens[] = { 16, 20, 64, 256, 1024, 4096 };
  const uint32_t nlens = sizeof lens / sizeof lens[0];
  for (unsigned k = 0; k < rk_handler_count (); k++) {
    const rk_handler *h = rk_handler_at (k);
    if (!h->caps)
      continue; /* driven by its own element's commands: tested on its own */
    char why[512] = "", what[128];
    rk_actor *a = actor_new_ring (ops, mode, h->name, 64 << 20, 0, 128, why, sizeof why);
    CHECK (a != NULL, "rk_actor_new (%s, %s): %s", ops->name, h->name, why);
    if (!a)
      continue;
    double params[RK_MAX_PARAMS];
    void *ref_state = reference_new (h, params);
    uint8_t *in = malloc (64 * 4096);
    for (uint32_t it = 0; it < 40 * nlens; it++) {
      uint32_t n = 1 + rnd () % 64, len = lens[(it / 10) % nlens];
      len -= len % h->unit;
      for (uint32_t i = 0; i < n * len; i += 4) {
        float f = rnd_float ();
        memcpy (in + i, &f, 4);
      }
      rk_record rec = { .type = RK_CMD_PROCESS };
      int r = rk_actor_submit_batch (a, &rec, n, in, len, len, TIMEOUT);
      CHECK (r == 0, "%s %s: batch of %u: %d", label, h->name, n, r);
      if (r != 0)
        break;
      for (uint32_t i = 0; i < n; i++) {
        rk_answer ans;
        r = rk_actor_receive (a, &ans, TIMEOUT);
        CHECK (r == 0, "%s %s: receive: %d", label, h->name, r);
        if (r != 0)
          break;
        snprintf (what, sizeof what, "%s %s batch of %u x %u bytes, message %u", label, h->name, n, len, i);
        check_answer (h, ref_state, params, in + i * len, len, &ans, rec.seq + i, what);
        rk_actor_release_output (a, ans.out_token);
      }
    }
    if (h->unit > 1) {
      /* 5 good, 3 bad, 4 good, 1 bad, published before the first answer is read */
      static const uint32_t n[4] = { 5, 3, 4, 1 }, bad[4] = { 0, 1, 0, 1 };
      const rk_control *ctl = rk_actor_control (a);
      const uint64_t errors0 = rk_load_relaxed64 (&ctl->errors);
      uint64_t seq[4];
      for (int b = 0; b < 4; b++) {
        const uint32_t len = 64 + bad[b];
        for (uint32_t i = 0; i < n[b] * len; i += 4) {
          float f = rnd_float ();
          memcpy (in + b * 1024 + i, &f, 4);
        }
        rk_record rec = { .type = RK_CMD_PROCESS };
        CHECK (rk_actor_submit_batch (a, &rec, n[b], in + b * 1024, len, len, TIMEOUT) == 0,
            "%s %s: batch %d", label, h->name, b);
        seq[b] = rec.seq;
      }
      for (int b = 0; b < 4; b++) {
        for (uint32_t i = 0; i < n[b]; i++) {
          const uint32_t len = 64 + bad[b];
          rk_answer ans;
          int r = rk_actor_receive (a, &ans, TIMEOUT);
          CHECK (r == 0, "%s %s: receive: %d", label, h->name, r);
          if (r != 0)
            break;
          snprintf (what, sizeof what, "%s %s mixed batches: batch %d, message %u", label, h->name, b, i);
          check_answer (h, ref_state, params, in + b * 1024 + i * len, len, &ans, seq[b] + i, what);
          rk_actor_release_output (a, ans.out_token);
        }
      }
      CHECK (rk_load_relaxed64 (&ctl->errors) - errors0 == 4
              && rk_load_relaxed32 (&ctl->last_error) == RK_STATUS_INVALID,
          "%s %s: %llu errors counted (want 4), last error %u", label, h->name,
          (unsigned long long) (rk_load_relaxed64 (&ctl->errors) - errors0),
          rk_load_relaxed32 (&ctl->last_error));
    }
    CHECK (rk_actor_stop (a, TIMEOUT) == 0, "%s %s: stop", label, h->name);
    rk_actor_unref (a);
    free (in);
    free (ref_state);
  }
}

/* The answers' stamps, exactly. Records stamped an hour ahead (out of order, some without a stamp; 64
 * bytes in the arena, 16 inline, and now and then 4 KiB, which the CUDA actor serves block-wide) are
 * all published before the first answer is read, so that the actor serves them in runs. With every
 * stamp ahead of the actor's clock, each answer's stamp follows from the previous answer's and the
 * record's by the HLC rules alone, whatever the actor's clock reads. */
static void
test_hlc_runs (const rk_backend_ops *ops, rk_actor_mode mode, const char *label)
{
  char why[512] = "";
  rk_actor *a = actor_new_ring (ops, mode, "echo", 64 << 20, 0, 128, why, sizeof why);
  CHECK (a != NULL, "rk_actor_new (%s, echo): %s", ops->name, why);
  if (!a)
    return;
  static uint8_t msg[4096];
  uint64_t stamp[128];
  uint32_t len[128];
  rk_answer ans;
  rk_record rec = { .type = RK_CMD_PROCESS };
  int bad = 0;
  CHECK (call (a, &rec, msg, 64, 64, &ans) == RK_STATUS_OK, "%s hlc: first record", label);
  rk_actor_release_output (a, ans.out_token);
  uint64_t t = ans.rec.hlc;
  const uint64_t ahead = rk_hlc_make (rk_hlc_wall_ms () + 3600 * 1000, 0);
  for (int round = 0; round < 20 && !bad; round++) {
    const uint32_t n = 1 + rnd () % 120;
    for (uint32_t i = 0; i < n; i++) {
      stamp[i] = (round == 0 && i == 0) || rnd () % 4 ? ahead + rnd () % 100000 : 0;
      len[i] = rnd () % 16 == 0 ? 4096 : rnd () % 2 ? 64 : 16;
      rec = (rk_record) { .type = RK_CMD_PROCESS, .hlc = stamp[i] };
      CHECK (rk_actor_submit (a, &rec, msg, len[i], len[i], TIMEOUT) == 0, "%s hlc: submit", label);
    }
    for (uint32_t i = 0; i < n && !bad; i++) {
      if (rk_actor_receive (a, &ans, TIMEOUT) < 0) {
        CHECK (0, "%s hlc: receive", label);
        bad = 1;
        break;
      }
      t = stamp[i] ? rk_hlc_next_recv (t, stamp[i], 0) : rk_hlc_next_send (t, 0);
      t = rk_hlc_next_send (t, 0);
      CHECK (ans.rec.hlc == t && ans.rec.status == RK_STATUS_OK, "%s hlc: round %d, record %u of %u "
          "(%u bytes, stamp %llx): answer stamped %llx, want %llx", label, round, i, n, len[i],
          (unsigned long long) stamp[i], (unsigned long long) ans.rec.hlc, (unsigned long long) t);
      bad |= ans.rec.hlc != t;
      rk_actor_release_output (a, ans.out_token);
    }
  }
  CHECK (rk_actor_stop (a, TIMEOUT) == 0, "%s hlc: stop", label);
  rk_actor_unref (a);
}

/* Records that come alone, one answered before the next is sent (the CUDA actor serves such a record
 * of up to 4 KiB with one warp, not in a run): every stateless handler at sizes up to 4 KiB, inline
 * and in the arena, with a stamp ahead of the actor's clock or none, against the reference and the
 * HLC rules; a length the handler refuses, with the actor's error count and last error; and then a
 * good record again. */
static void
test_alone (const rk_backend_ops *ops, rk_actor_mode mode, const char *label)
{
  static const uint32_t lens[] = { 4, 16, 32, 48, 64, 200, 512, 1024, 2064, 4096 };
  for (unsigned k = 0; k < rk_handler_count (); k++) {
    const rk_handler *h = rk_handler_at (k);
    if (!h->caps || h->state_size || h->state_size_for)
      continue; /* stateful handlers are served block-wide */
    double params[RK_MAX_PARAMS];
    void *ref_state = NULL;
    rk_actor *a = start_random (ops, mode, h, params, &ref_state);
    if (!a)
      continue;
    const rk_control *ctl = rk_actor_control (a);
    uint8_t in[4096 + 8];
    rk_answer ans;
    rk_record rec = { .type = RK_CMD_PROCESS };
    memset (in, 0, sizeof in);
    CHECK (call (a, &rec, in, 16, 16, &ans) == RK_STATUS_OK, "%s %s alone: first record", label, h->name);
    uint64_t t = ans.rec.hlc;
    rk_actor_release_output (a, ans.out_token);
    uint64_t whole = 1; /* answers that leave nothing in the output region: the first one (inline) */
    for (int round = 0; round < 40; round++) {
      const uint32_t len = lens[round % (sizeof lens / sizeof lens[0])] + (round % 5 == 4 && h->unit > 1);
      whole += len <= RK_LL_MAX_PAYLOAD || len % h->unit; /* carried, or refused */
      const uint64_t stamp = round % 3 ? rk_hlc_make (rk_hlc_wall_ms () + 3600 * 1000, rnd () % 1000) : 0;
      for (uint32_t i = 0; i < len; i += 4) {
        float f = rnd_float ();
        memcpy (in + i, &f, 4);
      }
      const uint64_t errors0 = rk_load_relaxed64 (&ctl->errors);
      rec = (rk_record) { .type = RK_CMD_PROCESS, .hlc = stamp };
      char what[128];
      snprintf (what, sizeof what, "%s %s alone, %u bytes", label, h->name, len);
      if (call (a, &rec, in, len, len, &ans) < 0) {
        CHECK (0, "%s: no answer", what);
        break;
      }
      check_answer (h, ref_state, params, in, len, &ans, rec.seq, what);
      /* with a stamp ahead the answer's follows from the HLC rules alone; without one it is at least
       * the next send after the previous answer */
      if (stamp) {
        t = rk_hlc_next_send (rk_hlc_next_recv (t, stamp, 0), 0);
        CHECK (ans.rec.hlc == t, "%s: stamped %llx, want %llx", what, (unsigned long long) ans.rec.hlc,
            (unsigned long long) t);
      } else {
        CHECK (ans.rec.hlc >= rk_hlc_next_send (t, 0), "%s: stamped %llx, after %llx", what,
            (unsigned long long) ans.rec.hlc, (unsigned long long) t);
      }
      t = ans.rec.hlc;
      const bool bad = len % h->unit;
      CHECK (rk_load_relaxed64 (&ctl->errors) - errors0 == bad
              && (!bad || rk_load_relaxed32 (&ctl->last_error) == RK_STATUS_INVALID),
          "%s: %llu errors counted (want %d), last error %u", what,
          (unsigned long long) (rk_load_relaxed64 (&ctl->errors) - errors0), bad,
          rk_load_relaxed32 (&ctl->last_error));
      rk_actor_release_output (a, ans.out_token);
    }
    CHECK (rk_load_relaxed64 (&ctl->records_in) == rk_load_relaxed64 (&ctl->records_out),
        "%s %s alone: %llu records in, %llu out", label, h->name,
        (unsigned long long) rk_load_relaxed64 (&ctl->records_in),
        (unsigned long long) rk_load_relaxed64 (&ctl->records_out));
    /* a persistent CUDA actor takes records that come alone from the H2K ring's mirror when the host
     * mirrors them whole and they have no more payload lines than the last one: in each round of the
     * lengths above at least 16, 32 and 48 bytes */
    const uint64_t fast = rk_load_relaxed64 (&ctl->h2k_fast);
    const bool mirror = ops->ll_mirror && mode == RK_MODE_PERSISTENT;
    CHECK (mirror ? fast >= 12 && fast <= rk_load_relaxed64 (&ctl->records_in) : fast == 0,
        "%s %s alone: %llu of %llu records taken from the H2K mirror", label, h->name,
        (unsigned long long) fast, (unsigned long long) rk_load_relaxed64 (&ctl->records_in));
    /* ... and writes every answer to such a record that leaves nothing in the output region (of up to
     * 448 bytes, or refused) into the K2H ring's mirror before the head, where the host, waiting for
     * it, takes it first (all of them but for a host thread held up past the fence and the head: far
     * more than 8); the answers were checked above, payloads from the mirror included. An answer
     * whose payload is in the output region waits for the head, which publishes that payload. */
    const uint64_t back = rk_load_relaxed64 (&ctl->k2h_fast);
    CHECK (mirror ? back >= 8 && back <= whole : back == 0,
        "%s %s alone: %llu of %llu answers taken from the K2H mirror (%llu leave nothing in the "
        "output region)", label, h->name, (unsigned long long) back,
        (unsigned long long) rk_load_relaxed64 (&ctl->records_out), (unsigned long long) whole);
    CHECK (rk_actor_stop (a, TIMEOUT) == 0, "%s %s alone: stop", label, h->name);
    rk_actor_unref (a);
    free (ref_state);
  }
}

static void
test_commands (const rk_backend_ops *ops, rk_actor_mode mode, const char *label)
{
  rk_actor *a = start (ops, mode, "scale");
  rk_record rec;
  rk_answer ans;
  if (!a)
    return;
  const rk_control *ctl = rk_actor_control (a);

  set_param (a, 7, 1.0, RK_STATUS_INVALID);
  set_param (a, 0, NAN, RK_STATUS_INVALID);
  set_param (a, 0, 3.0, RK_STATUS_OK);

  memset (&rec, 0, sizeof rec);
  rec.type = RK_CMD_PAUSE;
  CHECK (call (a, &rec, NULL, 0, 0, &ans) == RK_STATUS_OK, "%s pause", label);
  CHECK (ctl->state == RK_STATE_PAUSED, "%s: state %s after pause", label, rk_state_name (ctl->state));
  float x = 2.0f, y;
  memset (&rec, 0, sizeof rec);
  rec.type = RK_CMD_PROCESS;
  CHECK (call (a, &rec, &x, 4, 4, &ans) == RK_STATUS_OK, "%s: process while paused", label);
  memcpy (&y, rk_answer_data (&ans), 4);
  CHECK (y == 6.0f, "%s: 3 * 2 + 0 = %g while paused", label, y);
  memset (&rec, 0, sizeof rec);
  rec.type = RK_CMD_RESUME;
  CHECK (call (a, &rec, NULL, 0, 0, &ans) == RK_STATUS_OK, "%s resume", label);
  CHECK (ctl->state == RK_STATE_ACTIVE, "%s: state %s after resume", label, rk_state_name (ctl->state));

  memset (&rec, 0, sizeof rec);
  rec.type = RK_CMD_DRAIN;
  CHECK (call (a, &rec, NULL, 0, 0, &ans) == RK_STATUS_OK, "%s drain", label);
  memset (&rec, 0, sizeof rec);
  rec.type = RK_CMD_LINK;
  /* a malformed route: refused as such by a persistent actor, as unsupported in launch mode */
  rk_route route = { .inbox_addr = 4096, .arena_addr = 8192, .arena_size = 4096, .flags = 2 };
  CHECK (call (a, &rec, &route, sizeof route, 0, &ans)
          == (mode == RK_MODE_PERSISTENT ? RK_STATUS_INVALID : RK_STATUS_UNSUPPORTED),
      "%s link: %s", label, rk_status_name (ans.rec.status));
  CHECK (ans.rec.flags & RK_REC_F_ERROR, "%s: refused link has the error flag", label);
  memset (&rec, 0, sizeof rec);
  rec.type = 200;
  CHECK (call (a, &rec, NULL, 0, 0, &ans) == RK_STATUS_UNKNOWN_CMD, "%s unknown command", label);
  CHECK (ctl->last_error == RK_STATUS_UNKNOWN_CMD, "%s: last_error %u", label, ctl->last_error);

  /* HLC: the answer's stamp follows a stamp from the future */
  memset (&rec, 0, sizeof rec);
  rec.type = RK_CMD_DRAIN;
  rec.hlc = ((uint64_t) time (NULL) * 1000 + 600000) << 16;
  CHECK (call (a, &rec, NULL, 0, 0, &ans) == RK_STATUS_OK, "%s drain", label);
  CHECK (ans.rec.hlc > rec.hlc, "%s: answer stamp %llx not after %llx", label,
      (unsigned long long) ans.rec.hlc, (unsigned long long) rec.hlc);
  CHECK (ans.rec.node == 7, "%s: answer node %u", label, ans.rec.node);

  CHECK (rk_actor_stop (a, TIMEOUT) == 0, "%s stop", label);
  rk_actor_unref (a);
}

/* Snapshot an accumulate actor on `from`, restore it on `to`: both continue identically. */
static void
test_checkpoint (const rk_backend_ops *from_ops, rk_actor_mode from_mode, const rk_backend_ops *to_ops,
    rk_actor_mode to_mode, const char *label)
{
  rk_actor *a = start (from_ops, from_mode, "accumulate"), *b = start (to_ops, to_mode, "accumulate");
  const uint32_t n = 20000;
  float *buf = malloc (n * 4), *out_a = malloc (n * 4);
  rk_record rec;
  rk_answer ans;
  uint8_t *cp = NULL;
  uint32_t cp_len = 0;

  if (!a || !b)
    goto out;
  for (int r = 0; r < 5; r++) {
    for (uint32_t i = 0; i < n; i++)
      buf[i] = rnd_float ();
    memset (&rec, 0, sizeof rec);
    rec.type = RK_CMD_PROCESS;
    CHECK (call (a, &rec, buf, n * 4, n * 4, &ans) == RK_STATUS_OK, "%s: feed", label);
    rk_actor_release_output (a, ans.out_token);
  }
  /* too little room: refused, saying how much a snapshot needs */
  memset (&rec, 0, sizeof rec);
  rec.type = RK_CMD_SNAPSHOT;
  CHECK (call (a, &rec, NULL, 0, 4096, &ans) == RK_STATUS_TOO_LARGE, "%s: small snapshot", label);
  CHECK (ans.rec.u.desc.out_cap == sizeof (rk_checkpoint) + sizeof (rk_accumulate_head) + n * 8,
      "%s: a snapshot needs %u B, says the actor", label, ans.rec.u.desc.out_cap);
  memset (&rec, 0, sizeof rec);
  rec.type = RK_CMD_SNAPSHOT;
  CHECK (call (a, &rec, NULL, 0, 1 << 20, &ans) == RK_STATUS_OK, "%s: snapshot", label);
  cp_len = ans.rec.len;
  CHECK (cp_len == sizeof (rk_checkpoint) + sizeof (rk_accumulate_head) + n * 8, "%s: checkpoint %u B",
      label, cp_len);
  cp = malloc (cp_len);
  memcpy (cp, rk_answer_data (&ans), cp_len);
  rk_actor_release_output (a, ans.out_token);

  memset (&rec, 0, sizeof rec);
  rec.type = RK_CMD_RESTORE;
  CHECK (call (b, &rec, cp, cp_len, 0, &ans) == RK_STATUS_OK, "%s: restore", label);
  cp[0] ^= 1; /* a damaged checkpoint is refused */
  memset (&rec, 0, sizeof rec);
  rec.type = RK_CMD_RESTORE;
  CHECK (call (b, &rec, cp, cp_len, 0, &ans) == RK_STATUS_BAD_CHECKPOINT, "%s: bad checkpoint", label);

  for (uint32_t i = 0; i < n; i++)
    buf[i] = rnd_float ();
  memset (&rec, 0, sizeof rec);
  rec.type = RK_CMD_PROCESS;
  CHECK (call (a, &rec, buf, n * 4, n * 4, &ans) == RK_STATUS_OK, "%s: continue a", label);
  memcpy (out_a, rk_answer_data (&ans), n * 4);
  rk_actor_release_output (a, ans.out_token);
  memset (&rec, 0, sizeof rec);
  rec.type = RK_CMD_PROCESS;
  CHECK (call (b, &rec, buf, n * 4, n * 4, &ans) == RK_STATUS_OK, "%s: continue b", label);
  CHECK (memcmp (out_a, rk_answer_data (&ans), n * 4) == 0,
      "%s: the restored actor continues differently", label);
  rk_actor_release_output (b, ans.out_token);
out:
  if (a) {
    rk_actor_stop (a, TIMEOUT);
    rk_actor_unref (a);
  }
  if (b) {
    rk_actor_stop (b, TIMEOUT);
    rk_actor_unref (b);
  }
  free (cp);
  free (buf);
  free (out_a);
}

/* ---- K2K: chains of actors linked on the device ---- */

static rk_actor *
start_linked (const rk_backend_ops *ops, const char *kernel, uint64_t inbox)
{
  return start_with (ops, RK_MODE_PERSISTENT, kernel, 16 << 20, inbox);
}

/* Submit link record `seq` to actor i of a chain of n: from the host or the inbox, to the route or
 * the host. */
static int
submit_hop (rk_actor **a, int i, int n, uint64_t seq, const void *x, uint32_t bytes)
{
  rk_record rec = { .type = RK_CMD_PROCESS };
  rec.flags = (i > 0 ? RK_REC_F_FROM_INBOX : 0) | (i + 1 < n ? RK_REC_F_TO_ROUTE : 0);
  rec.u.desc.in_off = rec.u.desc.out_off = seq;
  return rk_actor_submit (a[i], &rec, i > 0 ? NULL : x, bytes, i + 1 < n ? 0 : bytes, TIMEOUT);
}

/* Link a[i] to a[i + 1], hop i by paths[i] (the consumer reads that path's inbox: RK_CMD_INBOX), or
 * every hop on the device when paths is NULL. */
static void
link_chain (rk_actor **a, int n, const rk_link_path *paths, const char *label)
{
  for (int i = 0; i + 1 < n; i++) {
    rk_route rt;
    rk_record rec = { 0 };
    rk_answer ans;
    int r;
    CHECK (rk_actor_inbox_route (a[i + 1], paths ? paths[i] : RK_LINK_DEVICE, (uint32_t) i + 1, &rt),
        "%s: no inbox", label);
    rk_route own;
    CHECK (rk_actor_inbox_route (a[i + 1], RK_LINK_DEVICE, 0, &own), "%s: no inbox", label);
    /* the staged inbox is memory of its own; the others are the device inbox */
    CHECK ((rt.inbox_addr == own.inbox_addr) == (!paths || paths[i] != RK_LINK_STAGED)
        && rt.flags == (paths && paths[i] != RK_LINK_DEVICE ? RK_ROUTE_F_SYSTEM : 0u),
        "%s: the route of path %s", label, paths ? rk_link_path_name (paths[i]) : "device");
    if (paths) {
      r = rk_actor_submit_inbox (a[i + 1], &rec, &rt, TIMEOUT);
      if (r == 0)
        r = rk_actor_receive (a[i + 1], &ans, TIMEOUT);
      CHECK (r == 0 && ans.rec.status == RK_STATUS_OK, "%s: INBOX of %d (%s): %d, status %u", label,
          i + 1, rk_link_path_name (paths[i]), r, r == 0 ? ans.rec.status : 0);
      memset (&rec, 0, sizeof rec);
    }
    r = rk_actor_submit_link (a[i], &rec, &rt, TIMEOUT);
    if (r == 0)
      r = rk_actor_receive (a[i], &ans, TIMEOUT);
    CHECK (r == 0 && ans.rec.status == RK_STATUS_OK, "%s: LINK %d -> %d: %d, status %u", label, i,
        i + 1, r, r == 0 ? ans.rec.status : 0);
  }
}

/* A chain of n actors of random kernels gives, buffer by buffer, the composition of the C references
 * (each actor's reference state stepped along), for small and large payloads. mixed: each hop takes a
 * path of the backend at random (on one GPU, PEER is the device inbox at system scope, as a link
 * between two GPUs uses it; STAGED an inbox in mapped host memory). win: buffers in flight; with 1,
 * each goes down the chain alone, and where two stateless actors are linked on the device a small one
 * (up to RK_LL_MAX_PAYLOAD bytes) goes through the inbox's low-latency mirror, as rk_control.fast_in
 * must count, on a backend that has one. */
static void
test_links (const rk_backend_ops *ops, int n, bool mixed, int win, const char *label)
{
  static const char *kinds[] = { "stencil", "scale", "echo", "accumulate" };
  static const uint32_t lens[] = { 0, 4, 60, 64, 200, 436, RK_LL_MAX_PAYLOAD, RK_LL_MAX_PAYLOAD + 8, 1024, 4096,
    65536, 1 << 20 };
  enum { BUFS = 120, WINDOW = 6 };
  uint64_t mirrored = 0; /* buffers small enough for the mirror */
  rk_actor *a[8];
  const rk_handler *h[8];
  double params[8][RK_MAX_PARAMS];
  void *state[8];
  uint8_t *want[WINDOW], *x = malloc (1 << 20), *tmp = malloc (1 << 20);
  uint32_t bytes[WINDOW];

  for (int i = 0; i < n; i++) {
    h[i] = rk_handler_find (kinds[rnd () % 4]);
    a[i] = start_linked (ops, h[i]->name, 4 << 20);
    if (!a[i]) {
      for (int k = 0; k < i; k++) {
        rk_actor_stop (a[k], TIMEOUT);
        rk_actor_unref (a[k]);
        free (state[k]);
      }
      free (x);
      free (tmp);
      return;
    }
    state[i] = reference_new (h[i], params[i]);
    for (uint32_t k = 0; k < h[i]->n_params; k++) {
      params[i][k] = rnd_float ();
      set_param (a[i], k, params[i][k], RK_STATUS_OK);
    }
  }
  for (int w = 0; w < WINDOW; w++)
    want[w] = malloc (1 << 20);
  rk_link_path paths[8] = { RK_LINK_HOST };
  for (int i = 0; i + 1 < n; i++) {
    static const rk_link_path all[] = { RK_LINK_DEVICE, RK_LINK_PEER, RK_LINK_STAGED };
    do
      paths[i] = all[rnd () % 3];
    while (!(ops->link_paths & (1u << paths[i])));
  }
  link_chain (a, n, mixed ? paths : NULL, label);
  if (mixed) {
    printf ("%s chain of %d, paths:", label, n);
    for (int i = 0; i + 1 < n; i++)
      printf (" %s", rk_link_path_name (paths[i]));
    printf ("\n");
  }
  for (int b = 0; b < BUFS + win; b++) {
    if (b >= win) {
      const int w = (b - win) % WINDOW;
      /* the answer's stamp of the actor before: on CUDA the link record carries the same stamp, which
       * the next actor receives and so goes past (the CPU backend stamps the link record first) */
      uint64_t hlc = 0;
      for (int i = 0; i < n; i++) {
        rk_answer ans;
        int r = rk_actor_receive (a[i], &ans, TIMEOUT);
        CHECK (r == 0, "%s chain of %d: actor %d: receive %d", label, n, i, r);
        if (r < 0)
          goto out;
        CHECK (ans.rec.status == RK_STATUS_OK && ans.rec.len == bytes[w], "%s chain of %d: actor %d "
            "(%s), buffer %d: status %s, length %u of %u", label, n, i, h[i]->name, b - win,
            rk_status_name (ans.rec.status), ans.rec.len, bytes[w]);
        CHECK (ans.rec.hlc > hlc || ops->kind != RK_BACKEND_CUDA, "%s chain of %d: actor %d, buffer %d: stamped %llx, not after %llx", label,
            n, i, b - win, (unsigned long long) ans.rec.hlc, (unsigned long long) hlc);
        hlc = ans.rec.hlc;
        if (i == n - 1 && ans.rec.status == RK_STATUS_OK) {
          const uint8_t *got = rk_answer_data (&ans);
          uint32_t bad = 0, first = 0;
          for (uint32_t k = 0; k < bytes[w]; k++)
            if (got[k] != want[w][k] && !bad++)
              first = k;
          CHECK (bad == 0, "%s chain of %d, buffer %d (%u bytes): %u bytes differ from the "
              "references, first at %u", label, n, b - win, bytes[w], bad, first);
        }
        rk_actor_release_output (a[i], ans.out_token);
      }
    }
    if (b >= BUFS)
      continue;
    const int w = b % WINDOW;
    bytes[w] = lens[rnd () % (sizeof lens / sizeof lens[0])];
    mirrored += bytes[w] <= RK_LL_MAX_PAYLOAD;
    for (uint32_t k = 0; k < bytes[w]; k += 4) {
      float f = rnd_float ();
      memcpy (x + k, &f, 4);
    }
    memcpy (want[w], x, bytes[w]);
    for (int i = 0; i < n; i++) {
      uint32_t out_len = 0;
      CHECK (h[i]->process (state[i], params[i], want[w], bytes[w], tmp, bytes[w], &out_len)
          == RK_STATUS_OK, "reference");
      memcpy (want[w], tmp, out_len);
    }
    for (int i = 0; i < n; i++) {
      int r = submit_hop (a, i, n, 100 + (uint64_t) b, x, bytes[w]);
      CHECK (r == 0, "%s chain of %d: submit to actor %d: %d", label, n, i, r);
    }
  }
  for (int i = 0; i < n; i++) {
    const rk_control *ctl = rk_actor_control (a[i]);
    CHECK (ctl->routed_out == (i + 1 < n ? BUFS : 0) && ctl->routed_in == (i > 0 ? BUFS : 0),
        "%s chain of %d: actor %d routed %llu out, %llu in", label, n, i,
        (unsigned long long) ctl->routed_out, (unsigned long long) ctl->routed_in);
    /* the mirror: where the backend has one, on a device hop with both ends stateless, the
     * producer's own input from the host or a device hop and the consumer's output to the host or a
     * device hop (so that one warp serves each), for every record that fits when they go one by
     * one; for some of them (those that happen to come alone) when more are in flight; never for
     * others */
    const bool fast = ops->ll_mirror && i > 0 && (!mixed || paths[i - 1] == RK_LINK_DEVICE)
        && (!mixed || i == 1 || paths[i - 2] == RK_LINK_DEVICE)
        && (!mixed || i == n - 1 || paths[i] == RK_LINK_DEVICE)
        && !rk_handler_state_size (h[i - 1], params[i - 1]) && !rk_handler_state_size (h[i], params[i]);
    CHECK (win == 1 || !fast ? ctl->fast_in == (fast ? mirrored : 0) : ctl->fast_in <= mirrored,
        "%s%s chain of %d, window %d: actor %d (%s after %s after %s, hops %s, %s, %s) took %llu "
        "records from the mirror, of %llu that fit", label, mixed ? " mixed" : "", n, win, i, h[i]->name,
        i > 0 ? h[i - 1]->name : "the host", i > 1 ? h[i - 2]->name : "the host",
        i > 1 ? rk_link_path_name (mixed ? paths[i - 2] : RK_LINK_DEVICE) : "-",
        i > 0 ? rk_link_path_name (mixed ? paths[i - 1] : RK_LINK_DEVICE) : "-",
        i + 1 < n ? rk_link_path_name (mixed ? paths[i] : RK_LINK_DEVICE) : "-",
        (unsigned long long) ctl->fast_in, (unsigned long long) mirrored);
  }
out:
  for (int i = 0; i < n; i++) {
    CHECK (rk_actor_stop (a[i], TIMEOUT) == 0, "%s: stop", label);
    rk_actor_unref (a[i]);
    free (state[i]);
  }
  for (int w = 0; w < WINDOW; w++)
    free (want[w]);
  free (x);
  free (tmp);
}

/* A wait for link data that never comes ends when the host cancels it; a consumer that stopped closes
 * its inbox, and the producer then forwards nothing. */
static void
test_link_teardown (const rk_backend_ops *ops, const char *label)
{
  rk_actor *a[2] = { start_linked (ops, "echo", 1 << 20), start_linked (ops, "echo", 1 << 20) };
  uint8_t x[256] = { 1, 2, 3 };
  rk_answer ans;
  if (!a[0] || !a[1]) {
    for (int i = 0; i < 2; i++)
      if (a[i]) {
        rk_actor_stop (a[i], TIMEOUT);
        rk_actor_unref (a[i]);
      }
    return;
  }
  link_chain (a, 2, NULL, label);
  CHECK (submit_hop (a, 1, 2, 5, NULL, 256) == 0, "submit");
  CHECK (rk_actor_receive (a[1], &ans, 100000000) == -ETIMEDOUT, "%s: an answer without data", label);
  rk_actor_cancel_links (a[1]);
  CHECK (rk_actor_receive (a[1], &ans, TIMEOUT) == 0 && ans.rec.status == RK_STATUS_CANCELLED,
      "%s: cancelled wait: status %s", label, rk_status_name (ans.rec.status));
  CHECK (rk_actor_stop (a[1], TIMEOUT) == 0, "%s: stop the consumer", label);
  CHECK (submit_hop (a, 0, 2, 6, x, 256) == 0, "submit");
  CHECK (rk_actor_receive (a[0], &ans, TIMEOUT) == 0 && ans.rec.status == RK_STATUS_CLOSED,
      "%s: forward into a closed inbox: status %s", label, rk_status_name (ans.rec.status));
  CHECK (rk_actor_stop (a[0], TIMEOUT) == 0, "%s: stop the producer", label);
  rk_actor_unref (a[0]);
  rk_actor_unref (a[1]);
}

/* The wave (rkwavesrc's actor) against the C reference, command by command: small grids that the
 * leader block steps alone, larger ones stepped by the whole grid, 2D and 3D. Snapshots of its fields
 * are refused as unsupported. */
static void
test_wave (const rk_backend_ops *ops, rk_actor_mode mode, const char *label)
{
  static const uint32_t dims[][3] = { { 64, 48, 1 }, { 33, 17, 1 }, { 1, 1, 1 }, { 300, 200, 1 },
    { 20, 12, 9 }, { 40, 30, 24 }, { 1024, 768, 1 } };
  for (unsigned i = 0; i < sizeof dims / sizeof dims[0]; i++) {
    char why[512] = "";
    const int rounds = dims[i][0] * dims[i][1] > 100000 ? 60 : 300;
    int r = wave_check (ops, mode, dims[i][0], dims[i][1], dims[i][2], rnd () | (uint64_t) rnd () << 32,
        rounds, why, sizeof why);
    CHECK (r == 0, "%s wave %ux%ux%u: %s", label, dims[i][0], dims[i][1], dims[i][2], why);
    printf ("%s wave %ux%ux%u: %s\n", label, dims[i][0], dims[i][1], dims[i][2], r ? "DIFFERENT" : "same");
  }
  check_no_snapshot (ops, mode, "wave", label);
}

/* The spectrum (rkspectrum's actor) against the C reference, buffer by buffer: every sample format,
 * averaged and per channel, small and large FFTs (one with 64 KiB of shared memory), and 64 channels
 * of 1024 bands, whose FFTs run in several batches per command. The FFT is the reference's to the bit;
 * log10 and atan2 are the device's, hence a tolerance. */
static void
test_spectrum (const rk_backend_ops *ops, rk_actor_mode mode, const char *label)
{
  static const struct { uint32_t bands, channels, mix, format; } cfg[] = {
    { 128, 1, 0, RK_SPECTRUM_S16 }, { 2, 2, 1, RK_SPECTRUM_F32 }, { 17, 6, 0, RK_SPECTRUM_S24 },
    { 129, 6, 1, RK_SPECTRUM_F64 }, { 1024, 2, 0, RK_SPECTRUM_S32 }, { 1000, 8, 0, RK_SPECTRUM_F32 },
    { 4097, 1, 0, RK_SPECTRUM_S16 }, { 1024, 64, 0, RK_SPECTRUM_S16 },
  };
  for (unsigned i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
    char why[512] = "";
    double wd = 0, wr = 0;
    int r = spectrum_check (ops, mode, cfg[i].bands, cfg[i].channels, cfg[i].mix, cfg[i].format,
        rnd () | (uint64_t) rnd () << 32, cfg[i].channels > 8 ? 12 : 40, 1e-4, 1e-5, &wd, &wr, why,
        sizeof why);
    CHECK (r == 0, "%s spectrum %u bands, %u channels: %s", label, cfg[i].bands, cfg[i].channels, why);
    printf ("%s spectrum %u bands, %u channels%s: %s (worst %.2e dB, %.2e rad)\n", label, cfg[i].bands,
        cfg[i].channels, cfg[i].mix ? " averaged" : "", r ? "DIFFERENT" : "same", wd, wr);
  }
  char nf_why[512] = "";
  CHECK (spectrum_check_nonfinite (ops, mode, 17, 1e-4, 1e-5, nf_why, sizeof nf_why) == 0, "%s spectrum, "
      "audio not finite: %s", label, nf_why);
  check_no_snapshot (ops, mode, "spectrum", label);
  /* an FFT too large for one block's shared memory: a clear refusal */
  double p[RK_MAX_PARAMS];
  rk_handler_default_params (rk_handler_find ("spectrum"), p);
  p[RK_SPECTRUM_P_BANDS] = 1 << 16;
  rk_actor_config c = { .backend = ops, .handler = rk_handler_find ("spectrum"), .mode = mode,
    .ring_entries = 16, .in_arena_size = 1 << 20, .out_arena_size = 1 << 20, .params = p };
  rk_actor *a = NULL;
  char why[512] = "";
  CHECK (rk_actor_new (&c, &a, why, sizeof why) < 0, "%s spectrum: 65536 bands started", label);
  printf ("%s spectrum 65536 bands: refused (%s)\n", label, why);
}

/* Persistent actors side by side on one GPU: their blocks never leave, so each grid must fit beside the
 * others, or a grid barrier waits forever. A wave that stretches over much of the GPU is held while a
 * spectrum and echo actors start and are checked against the C reference; echo actors are then added
 * until the device is full, which must be a clear refusal; once all stop, the whole GPU is free again. */
static void
test_coresident (const rk_backend_ops *ops, const char *label)
{
  enum { MAX_HELD = 512 };
  static rk_actor *held[MAX_HELD];
  int n = 0;
  char why[512] = "";
  double wp[RK_MAX_PARAMS];
  rk_handler_default_params (rk_handler_find ("wave"), wp);
  wp[RK_WAVE_P_WIDTH] = 2048;
  wp[RK_WAVE_P_HEIGHT] = 2048;
  rk_actor_config wc = { .backend = ops, .handler = rk_handler_find ("wave"), .mode = RK_MODE_PERSISTENT,
    .ring_entries = 16, .in_arena_size = 1 << 20, .out_arena_size = 32 << 20, .params = wp };
  rk_actor *wave = NULL;
  CHECK (rk_actor_new (&wc, &wave, why, sizeof why) == 0, "%s: the large wave: %s", label, why);
  if (!wave)
    return;
  const rk_handler *echo = rk_handler_find ("echo");
  for (int i = 0; i < 4; i++)
    held[n++] = start_with (ops, RK_MODE_PERSISTENT, "echo", 8 << 20, 0);

  /* beside the wave and the echo actors: a spectrum (grid barriers of its own) and a small wave */
  double wd = 0, wr = 0;
  int r = spectrum_check (ops, RK_MODE_PERSISTENT, 1024, 16, 0, RK_SPECTRUM_S16, rnd () | (uint64_t) rnd () << 32,
      12, 1e-4, 1e-5, &wd, &wr, why, sizeof why);
  CHECK (r == 0, "%s: spectrum beside a wave: %s", label, why);
  r = wave_check (ops, RK_MODE_PERSISTENT, 300, 200, 1, rnd () | (uint64_t) rnd () << 32, 100, why, sizeof why);
  CHECK (r == 0, "%s: a second wave beside the first: %s", label, why);
  for (int i = 0; i < n; i++) {
    double params[RK_MAX_PARAMS];
    void *ref = reference_new (echo, params);
    process_and_compare (held[i], echo, ref, params, 1 << 20, "beside a wave");
    free (ref);
  }
  /* the wave still steps: a frame of 8 steps comes back */
  rk_wave_frame fr = { .op = RK_WAVE_FRAME, .steps = 8, .format = RK_WAVE_FMT_GRAY16, .stride = 4096 };
  rk_answer ans;
  r = wave_call (wave, RK_CMD_PROCESS, 0, 0, &fr, sizeof fr, 4096 * 2048, &ans);
  CHECK (r == RK_STATUS_OK && ans.rec.len == 4096u * 2048, "%s: the large wave's frame: status %d", label, r);
  if (r >= 0)
    rk_actor_release_output (wave, ans.out_token);

  /* fill the GPU: a refusal that says so, not a hang */
  int refused = 0;
  while (n < MAX_HELD && !refused) {
    rk_actor_config cfg = { .backend = ops, .handler = echo, .mode = RK_MODE_PERSISTENT, .ring_entries = 16,
      .in_arena_size = 1 << 16, .out_arena_size = 1 << 16 };
    rk_actor *a = NULL;
    if (rk_actor_new (&cfg, &a, why, sizeof why) < 0)
      refused = 1;
    else
      held[n++] = a;
  }
  CHECK (refused && strstr (why, "full"), "%s: %d actors started, and then: %s", label, n,
      refused ? why : "no refusal");
  printf ("%s: a 2048^2 wave, a spectrum, a second wave and %d echo actors ran at once; then: %s\n", label, n,
      why);
  {
    double params[RK_MAX_PARAMS];
    void *ref = reference_new (echo, params);
    process_and_compare (held[n - 1], echo, ref, params, 4096, "the last one started");
    free (ref);
  }
  for (int i = 0; i < n; i++) {
    CHECK (rk_actor_stop (held[i], TIMEOUT) == 0, "%s: stop echo %d", label, i);
    rk_actor_unref (held[i]);
  }
  CHECK (rk_actor_stop (wave, TIMEOUT) == 0, "%s: stop the wave", label);
  rk_actor_unref (wave);

  /* all returned: the large wave and the echo actors start again */
  wave = NULL;
  CHECK (rk_actor_new (&wc, &wave, why, sizeof why) == 0, "%s: the large wave again: %s", label, why);
  rk_actor *again = start_with (ops, RK_MODE_PERSISTENT, "echo", 1 << 16, 0);
  if (again) {
    rk_actor_stop (again, TIMEOUT);
    rk_actor_unref (again);
  }
  if (wave) {
    rk_actor_stop (wave, TIMEOUT);
    rk_actor_unref (wave);
  }
}

int
main (void)
{
  char why[512] = "";
  const rk_backend_ops *cuda = rk_backend_get (RK_BACKEND_CUDA, why, sizeof why);
  const rk_backend_ops *cpu = rk_backend_get (RK_BACKEND_CPU, why, sizeof why);

  if (!cuda || cuda->probe (0, why, sizeof why) < 0) {
    printf ("SKIP: %s\n", why);
    return 77;
  }
  rk_cuda_device_info (0, why, sizeof why);
  seed_and_report (why);

  /* the ABI as device code sees it */
  uint64_t dev[64], host[64];
  int n = rk_cuda_abi_layout (dev, 64), m = 0;
#define HOST_VALUE(v) host[m++] = (uint64_t) (v);
  RK_ABI_LAYOUT (HOST_VALUE)
  CHECK (n == m, "layout has %d values on the device, %d on the host", n, m);
  for (int i = 0; i < n && i < m; i++)
    CHECK (dev[i] == host[i], "layout value %d: device %llu, host %llu", i,
        (unsigned long long) dev[i], (unsigned long long) host[i]);

  test_handlers (cuda, RK_MODE_PERSISTENT, "persistent");
  test_handlers (cuda, RK_MODE_LAUNCH, "launch");
  test_batches (cuda, RK_MODE_PERSISTENT, "persistent");
  test_batches (cuda, RK_MODE_LAUNCH, "launch");
  test_batches (cpu, RK_MODE_PERSISTENT, "cpu");
  test_alone (cuda, RK_MODE_PERSISTENT, "persistent");
  test_alone (cuda, RK_MODE_LAUNCH, "launch");
  test_alone (cpu, RK_MODE_PERSISTENT, "cpu");
  test_hlc_runs (cuda, RK_MODE_PERSISTENT, "persistent");
  test_hlc_runs (cuda, RK_MODE_LAUNCH, "launch");
  test_hlc_runs (cpu, RK_MODE_PERSISTENT, "cpu");
  test_commands (cuda, RK_MODE_PERSISTENT, "persistent");
  test_commands (cuda, RK_MODE_LAUNCH, "launch");
  test_checkpoint (cuda, RK_MODE_PERSISTENT, cpu, RK_MODE_PERSISTENT, "cuda -> cpu");
  test_checkpoint (cpu, RK_MODE_PERSISTENT, cuda, RK_MODE_PERSISTENT, "cpu -> cuda");
  test_checkpoint (cuda, RK_MODE_LAUNCH, cuda, RK_MODE_PERSISTENT, "launch -> persistent");
  for (int len = 1; len <= 8; len *= 2) {
    test_links (cuda, len, false, 6, "cuda");
    test_links (cuda, len, false, 1, "cuda");
    test_links (cuda, len, true, 6, "cuda");
    test_links (cuda, len, true, 1, "cuda");
    test_links (cpu, len, false, 6, "cpu");
    test_links (cpu, len, true, 6, "cpu");
  }
  test_link_teardown (cuda, "cuda");
  test_link_teardown (cpu, "cpu");
  test_wave (cuda, RK_MODE_PERSISTENT, "persistent");
  test_wave (cuda, RK_MODE_LAUNCH, "launch");
  test_spectrum (cuda, RK_MODE_PERSISTENT, "persistent");
  test_spectrum (cuda, RK_MODE_LAUNCH, "launch");
  test_coresident (cuda, "coresident");

  printf ("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
