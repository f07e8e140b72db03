/* What the GPU tests share: a check that counts failures and goes on (one run shows every difference). */
#ifndef RK_GPU_TEST_H
#define RK_GPU_TEST_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf (stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);                    \
      fprintf (stderr, __VA_ARGS__);                                                               \
      fprintf (stderr, "\n");                                                                      \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)


/* What the actor tests share: a random source, a call that waits for its answer, a parameter change,
 * and a payload through an actor compared with the handler's C reference. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rk_actor.h"
#include "rk_handlers.h"

#define TIMEOUT 10000000000ll

/* An actor of handler `kernel` with a ring of `entries`, arenas of `arena` bytes and, if inbox > 0, a
 * K2K inbox of that many; NULL with the reason in why. actor_new (): a ring of 16. */
static inline rk_actor *
actor_new_ring (const rk_backend_ops *ops, rk_actor_mode mode, const char *kernel, uint64_t arena,
    uint64_t inbox, uint32_t entries, char *why, size_t why_len)
{
  rk_actor_config cfg = {
    .backend = ops,
    .handler = rk_handler_find (kernel),
    .mode = mode,
    .ring_entries = entries,
    .in_arena_size = arena,
    .out_arena_size = arena,
    .node = 7,
    .inbox_arena_size = inbox,
  };
  rk_actor *a = NULL;
  return rk_actor_new (&cfg, &a, why, why_len) == 0 ? a : NULL;
}

static inline rk_actor *
actor_new (const rk_backend_ops *ops, rk_actor_mode mode, const char *kernel, uint64_t arena,
    uint64_t inbox, char *why, size_t why_len)
{
  return actor_new_ring (ops, mode, kernel, arena, inbox, 16, why, why_len);
}

static uint64_t rng_state;

static inline uint32_t
rnd (void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t) (rng_state >> 11);
}

/* Seed the generator from the clock and say which device and seed a run used, so that a failure can be
 * replayed. */
static inline void
seed_and_report (const char *device)
{
  rng_state = (uint64_t) time (NULL) * 2654435761u | 1;
  printf ("device: %s\nseed: %llu\n", device, (unsigned long long) rng_state);
}

static inline float
rnd_float (void)
{
  return (float) ((int32_t) rnd () % 2000000) / 1000.0f;
}

/* Submit and wait for the answer; returns the answer's status (or -1). */
static inline int
call (rk_actor *a, rk_record *rec, const void *payload, uint32_t len, uint32_t out_cap,
    rk_answer *ans)
{
  int r = rk_actor_submit (a, rec, payload, len, out_cap, TIMEOUT);
  if (r == 0)
    r = rk_actor_receive (a, ans, TIMEOUT);
  if (r < 0) {
    char why[256] = "";
    rk_actor_check (a, why, sizeof why);
    fprintf (stderr, "call: %d (%s)\n", r, why);
    return -1;
  }
  CHECK (ans->rec.seq == rec->seq, "answer seq %llu for record %llu",
      (unsigned long long) ans->rec.seq, (unsigned long long) rec->seq);
  CHECK (ans->rec.type == rec->type, "answer type %u for %u", ans->rec.type, rec->type);
  return (int) ans->rec.status;
}

static inline void
set_param (rk_actor *a, uint32_t i, double v, uint32_t want_status)
{
  rk_record rec = { .type = RK_CMD_SET_PARAM };
  rk_answer ans;
  rec.u.desc.aux = i;
  memcpy (&rec.u.desc.arg, &v, sizeof v);
  CHECK (call (a, &rec, NULL, 0, 0, &ans) == (int) want_status, "set-param %u = %g", i, v);
}

/* Run `len` bytes through the actor and through the reference (ref state kept by the caller). */
static inline void
process_and_compare (rk_actor *a, const rk_handler *h, void *ref_state, const double *params,
    uint32_t len, const char *what)
{
  uint8_t *in = malloc (len ? len : 1), *want = malloc (len ? len : 1);
  uint32_t want_len = 0;
  rk_record rec = { .type = RK_CMD_PROCESS };
  rk_answer ans;

  for (uint32_t i = 0; i + 4 <= len; i += 4) {
    float f = rnd_float ();
    memcpy (in + i, &f, 4);
  }
  for (uint32_t i = len & ~3u; i < len; i++)
    in[i] = (uint8_t) rnd ();
  if (h->id == RK_KERNEL_LEVELS)
    for (uint32_t i = 0; i < len; i++)
      in[i] = (uint8_t) rnd (); /* any 16-bit sample */
  CHECK (h->process (ref_state, params, in, len, want, len, &want_len) == RK_STATUS_OK, "reference");
  int st = call (a, &rec, in, len, len, &ans);
  CHECK (st == RK_STATUS_OK, "%s %s %u bytes: status %d", h->name, what, len, st);
  if (st == RK_STATUS_OK) {
    CHECK (ans.rec.len == want_len, "%s %s: length %u, want %u", h->name, what, ans.rec.len, want_len);
    const uint8_t *got = rk_answer_data (&ans);
    uint32_t bad = 0, first = 0;
    for (uint32_t i = 0; i < want_len; i++)
      if (got[i] != want[i] && !bad++)
        first = i;
    CHECK (bad == 0, "%s %s %u bytes: %u bytes differ from the reference, first at %u", h->name,
        what, len, bad, first);
  }
  rk_actor_release_output (a, ans.out_token);
  free (in);
  free (want);
}

/* An actor of handler `name` (default parameters) answers SNAPSHOT with
 * UNSUPPORTED: its state does not go through the output arena. */
static inline void
check_no_snapshot (const rk_backend_ops *ops, rk_actor_mode mode, const char *name, const char *label)
{
  double p[RK_MAX_PARAMS];
  rk_handler_default_params (rk_handler_find (name), p);
  rk_actor_config cfg = {
    .backend = ops,
    .handler = rk_handler_find (name),
    .mode = mode,
    .ring_entries = 16,
    .in_arena_size = 1 << 20,
    .out_arena_size = 1 << 20,
    .params = p,
  };
  rk_actor *a = NULL;
  char why[512] = "";
  CHECK (rk_actor_new (&cfg, &a, why, sizeof why) == 0, "%s %s: %s", label, name, why);
  if (!a)
    return;
  rk_answer ans;
  rk_record rec = { .type = RK_CMD_SNAPSHOT };
  CHECK (call (a, &rec, NULL, 0, 1 << 19, &ans) == RK_STATUS_UNSUPPORTED,
      "%s %s: snapshot answered %s", label, name, rk_status_name (ans.rec.status));
  rk_actor_release_output (a, ans.out_token);
  CHECK (rk_actor_stop (a, TIMEOUT) == 0, "%s %s: stop", label, name);
  rk_actor_unref (a);
}

#endif /* RK_GPU_TEST_H */
