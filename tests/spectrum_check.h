/* gst-ringkernel tests: a spectrum actor on some backend against the C reference, command by command.
 *
 * spectrum_check () starts an actor of the "spectrum" handler and feeds it random audio (tones and
 * noise in one sample format), cut into buffers of random lengths and planned as rkspectrum plans them
 * (a random interval, discontinuities, magnitude and phase switched on and off), with malformed
 * commands in between. The C handler, run directly on a state of its own, gets the same commands. The
 * answers must agree: magnitudes within tol_db, phases within tol_rad (0, 0: the same bits). Shared by
 * the CPU tests and the GPU tests.
 */
#ifndef RK_SPECTRUM_CHECK_H
#define RK_SPECTRUM_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk_actor.h"
#include "rk_handlers.h"
#include "rk_spectrum.h"

#define SPECTRUM_CHECK_TIMEOUT 30000000000ll

typedef struct spectrum_rng {
  uint64_t s;
} spectrum_rng;

static uint32_t
spectrum_rnd (spectrum_rng *r)
{
  r->s ^= r->s << 13;
  r->s ^= r->s >> 7;
  r->s ^= r->s << 17;
  return (uint32_t) (r->s >> 16);
}

static double
spectrum_unit (spectrum_rng *r)
{
  return (double) spectrum_rnd (r) / 4294967296.0;
}

/* frames of audio in format: a few tones per channel plus noise, amplitude below full scale. */
static void
spectrum_make_audio (spectrum_rng *r, uint32_t format, uint32_t channels, uint64_t first,
    uint32_t frames, uint32_t rate, const double *freq, uint8_t *out)
{
  const uint32_t bps = rk_spectrum_bps (format);
  for (uint32_t f = 0; f < frames; f++)
    for (uint32_t c = 0; c < channels; c++) {
      const double t = (double) (first + f) / rate;
      double v = 0.4 * sin (2 * M_PI * freq[c % 4] * t) + 0.2 * sin (2 * M_PI * freq[(c + 1) % 4] * t)
          + 0.05 * (2 * spectrum_unit (r) - 1);
      uint8_t *p = out + ((size_t) f * channels + c) * bps;
      switch (format) {
        case RK_SPECTRUM_S16: { int16_t s = (int16_t) lrint (v * 32767); memcpy (p, &s, 2); break; }
        case RK_SPECTRUM_S24: {
          int32_t s = (int32_t) lrint (v * 8388607);
          p[0] = (uint8_t) s; p[1] = (uint8_t) (s >> 8); p[2] = (uint8_t) (s >> 16);
          break;
        }
        case RK_SPECTRUM_S32: { int32_t s = (int32_t) lrint (v * 2147483647.0); memcpy (p, &s, 4); break; }
        case RK_SPECTRUM_F32: { float s = (float) v; memcpy (p, &s, 4); break; }
        default: memcpy (p, &v, 8); break;
      }
    }
}

static int
spectrum_fail (char *why, size_t why_len, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (why, why_len, fmt, ap);
  va_end (ap);
  return -1;
}

/* Compare two answers of n floats: per band block, magnitudes then phases as flags say. Returns the
 * index of the first disagreement, or -1; *worst_db and *worst_rad get the largest differences. */
static long
spectrum_compare (const float *got, const float *want, uint32_t len, uint32_t flags, uint32_t block,
    double tol_db, double tol_rad, double *worst_db, double *worst_rad)
{
  const uint32_t n = len / 4, per = ((flags & RK_SPECTRUM_F_MAGNITUDE) != 0) + ((flags & RK_SPECTRUM_F_PHASE) != 0);
  for (uint32_t i = 0; i < n; i++) {
    const int is_phase = (flags & RK_SPECTRUM_F_PHASE) && (per == 1 || (i / block) % 2 == 1);
    double d = got[i] == want[i] ? 0.0 : fabs ((double) got[i] - want[i]); /* infinities too */
    if (is_phase && d > M_PI)
      d = fabs (d - 2 * M_PI); /* a phase near +-pi may land on either side */
    if (!(d == d) && !(got[i] != got[i] && want[i] != want[i]))
      return i;
    if (is_phase) {
      if (d > *worst_rad)
        *worst_rad = d;
      if (d > tol_rad)
        return i;
    } else {
      if (d > *worst_db)
        *worst_db = d;
      if (d > tol_db)
        return i;
    }
  }
  return -1;
}

/* Runs `buffers` random buffers; 0, or -1 with the first difference in why. */
static int
spectrum_check (const rk_backend_ops *ops, rk_actor_mode mode, uint32_t bands, uint32_t channels,
    int mix, uint32_t format, uint64_t seed, int buffers, double tol_db, double tol_rad,
    double *worst_db, double *worst_rad, char *why, size_t why_len)
{
  spectrum_rng r = { seed | 1 };
  const rk_handler *h = rk_handler_find ("spectrum");
  const uint32_t out_ch = mix ? 1 : channels, rate = 8000 + spectrum_rnd (&r) % 40000;
  double params[RK_MAX_PARAMS];
  rk_handler_default_params (h, params);
  params[RK_SPECTRUM_P_BANDS] = bands;
  params[RK_SPECTRUM_P_CHANNELS] = out_ch;
  const size_t state_size = rk_handler_state_size (h, params);
  const uint32_t nfft = 2 * bands - 2, max_frames = 3 * nfft + 700;
  const double freq[4] = { rate * 0.011, rate * 0.093, rate * 0.23, rate * 0.37 };
  /* intervals from a frame (small FFTs only) or a quarter FFT to a few FFTs */
  const uint32_t shortest = bands <= 64 ? 1 : nfft / 4;
  const uint64_t interval = (uint64_t) ((shortest + spectrum_rnd (&r) % (4 * nfft)) * 1e9 / rate);
  rk_spectrum_planner plan;
  rk_spectrum_planner_init (&plan, bands, interval, rate);

  const uint32_t ev_cap = RK_SPECTRUM_MAX_EVENTS;
  const uint32_t cmd_cap = rk_spectrum_command_size (format, channels, max_frames, ev_cap);
  /* room for every interval that a buffer can end */
  const uint64_t ends = max_frames / plan.frames_per_interval + 2;
  const uint32_t out_cap = (uint32_t) (ends * 2 * out_ch * bands * 4);
  void *ref = aligned_alloc (RK_ARENA_ALIGN, (state_size + RK_ARENA_ALIGN - 1) / RK_ARENA_ALIGN * RK_ARENA_ALIGN);
  uint8_t *audio = malloc ((size_t) max_frames * channels * 8);
  uint8_t *cmd = malloc (cmd_cap);
  rk_spectrum_event *ev = malloc (ev_cap * sizeof *ev);
  float *want = malloc (out_cap);
  int ret = 0;
  if (!state_size || !ref || !audio || !cmd || !ev || !want)
    return spectrum_fail (why, why_len, "no state (%zu bytes) or out of memory", state_size);
  h->init (ref, params);

  rk_actor_config cfg = {
    .backend = ops,
    .handler = h,
    .mode = mode,
    .ring_entries = 16,
    .in_arena_size = (8ull * cmd_cap + (1 << 20)) / RK_ARENA_ALIGN * RK_ARENA_ALIGN,
    .out_arena_size = (4ull * out_cap + (1 << 20)) / RK_ARENA_ALIGN * RK_ARENA_ALIGN,
    .node = 11,
    .params = params,
  };
  rk_actor *a = NULL;
  char reason[512] = "";
  if (rk_actor_new (&cfg, &a, reason, sizeof reason) < 0) {
    ret = spectrum_fail (why, why_len, "rk_actor_new: %s", reason);
    goto done;
  }

  uint64_t t = 0;
  uint32_t flags = RK_SPECTRUM_F_MAGNITUDE | (mix ? RK_SPECTRUM_F_MIX : 0);
  for (int b = 0; b < buffers && ret == 0; b++) {
    const uint32_t pick = spectrum_rnd (&r) % 100;
    rk_answer ans;
    if (pick < 8) {
      /* malformed: the actor refuses it and its state stays as it was */
      rk_spectrum_cmd c = { .format = format, .channels = channels, .frames = 4, .flags = flags,
        .threshold = -60 };
      rk_spectrum_event e = { 4, RK_SPECTRUM_EV_FFT };
      spectrum_make_audio (&r, format, channels, t, 4, rate, freq, audio);
      uint32_t len = rk_spectrum_command_write (cmd, &c, &e, 1, audio), cap = out_cap;
      uint32_t want_st = RK_STATUS_INVALID;
      rk_spectrum_cmd *w = (rk_spectrum_cmd *) (void *) cmd;
      switch (spectrum_rnd (&r) % 6) {
        case 0: w->op = 7; break;
        case 1: w->format = RK_SPECTRUM_FMT_COUNT_; break;
        case 2: w->channels = channels + 1; break;
        case 3: ((rk_spectrum_event *) (void *) (cmd + sizeof c))->at = 5; break;
        case 4: len -= 1; break;
        default:
          /* no room (an answer small enough to come back in the record itself always has room) */
          ((rk_spectrum_event *) (void *) (cmd + sizeof c))->kind = RK_SPECTRUM_EV_END;
          w->flags |= RK_SPECTRUM_F_PHASE | RK_SPECTRUM_F_MAGNITUDE;
          if (2 * out_ch * bands * 4 > 2 * RK_INLINE_MAX) {
            cap = 2 * out_ch * bands * 4 - 4;
            want_st = RK_STATUS_TOO_LARGE;
          } else {
            w->flags |= 1u << 7;
          }
          break;
      }
      rk_record rec = { .type = RK_CMD_PROCESS };
      if (rk_actor_submit (a, &rec, cmd, len, cap, SPECTRUM_CHECK_TIMEOUT) < 0
          || rk_actor_receive (a, &ans, SPECTRUM_CHECK_TIMEOUT) < 0) {
        ret = spectrum_fail (why, why_len, "buffer %d: the actor did not answer", b);
        break;
      }
      if (ans.rec.status != want_st)
        ret = spectrum_fail (why, why_len, "buffer %d: a malformed command answered %u, want %u", b,
            ans.rec.status, want_st);
      rk_actor_release_output (a, ans.out_token);
      continue;
    }
    if (pick < 20)
      flags ^= RK_SPECTRUM_F_PHASE;
    if (pick >= 20 && pick < 24)
      flags ^= RK_SPECTRUM_F_MAGNITUDE;
    uint32_t f = flags;
    if (pick >= 24 && pick < 28) {
      rk_spectrum_planner_flush (&plan);
      f |= RK_SPECTRUM_F_RESTART;
    }
    const int32_t threshold = -40 - (int32_t) (spectrum_rnd (&r) % 80);
    uint32_t frames = 1 + spectrum_rnd (&r) % max_frames, n_ev = 0;
    frames = rk_spectrum_plan (&plan, frames, ev, ev_cap, &n_ev, NULL);
    spectrum_make_audio (&r, format, channels, t, frames, rate, freq, audio);
    t += frames;
    rk_spectrum_cmd c = { .format = format, .channels = channels, .frames = frames, .flags = f,
      .threshold = threshold };
    const uint32_t len = rk_spectrum_command_write (cmd, &c, ev, n_ev, audio);
    uint32_t want_len = 0;
    const uint32_t st = h->process (ref, params, cmd, len, (uint8_t *) want, out_cap, &want_len);
    rk_record rec = { .type = RK_CMD_PROCESS };
    if (rk_actor_submit (a, &rec, cmd, len, want_len, SPECTRUM_CHECK_TIMEOUT) < 0
        || rk_actor_receive (a, &ans, SPECTRUM_CHECK_TIMEOUT) < 0) {
      ret = spectrum_fail (why, why_len, "buffer %d: the actor did not answer", b);
      break;
    }
    if (st != RK_STATUS_OK || ans.rec.status != RK_STATUS_OK || ans.rec.len != want_len) {
      ret = spectrum_fail (why, why_len, "buffer %d (%u frames, %u events): answered %u with %u bytes, "
          "the reference %u with %u", b, frames, n_ev, ans.rec.status, ans.rec.len, st, want_len);
    } else if (want_len) {
      const float *got = (const float *) rk_answer_data (&ans);
      long i = spectrum_compare (got, want, want_len, f, out_ch * bands, tol_db, tol_rad, worst_db,
          worst_rad);
      if (i >= 0)
        ret = spectrum_fail (why, why_len, "buffer %d: value %ld (band %ld): %.9g, the reference %.9g",
            b, i, i % bands, got[i], want[i]);
    }
    rk_actor_release_output (a, ans.out_token);
  }

done:
  if (a)
    rk_actor_unref (a);
  free (ref);
  free (audio);
  free (cmd);
  free (ev);
  free (want);
  return ret;
}

/* Audio that is not finite, or whose FFT overflows: float32 samples of 1e30, +-inf and NaN among
 * ordinary ones, in a command of a few FFTs and one interval, magnitudes and phases. The answers must
 * be the reference's, infinities and NaN where it has them. 0, or -1 with the first difference in
 * why. */
static int
spectrum_check_nonfinite (const rk_backend_ops *ops, rk_actor_mode mode, uint32_t bands, double tol_db,
    double tol_rad, char *why, size_t why_len)
{
  static const float odd[] = { 1e30f, INFINITY, -INFINITY, NAN };
  const rk_handler *h = rk_handler_find ("spectrum");
  double params[RK_MAX_PARAMS];
  rk_handler_default_params (h, params);
  params[RK_SPECTRUM_P_BANDS] = bands;
  params[RK_SPECTRUM_P_CHANNELS] = 1;
  const uint32_t nfft = 2 * bands - 2, frames = 4 * nfft, out_cap = 2 * bands * 4;
  const size_t state_size = rk_handler_state_size (h, params);
  void *ref = aligned_alloc (RK_ARENA_ALIGN, (state_size + RK_ARENA_ALIGN - 1) / RK_ARENA_ALIGN * RK_ARENA_ALIGN);
  float *audio = malloc (frames * sizeof *audio), *want = malloc (out_cap);
  rk_spectrum_event ev[8];
  const uint32_t cmd_cap = rk_spectrum_command_size (RK_SPECTRUM_F32, 1, frames, 8);
  uint8_t *cmd = malloc (cmd_cap);
  int ret = 0;
  rk_actor *a = NULL;
  if (!state_size || !ref || !audio || !want || !cmd) {
    ret = spectrum_fail (why, why_len, "out of memory");
    goto done;
  }
  h->init (ref, params);
  rk_actor_config cfg = { .backend = ops, .handler = h, .mode = mode, .ring_entries = 16,
    .in_arena_size = 1 << 22, .out_arena_size = 1 << 22, .node = 11, .params = params };
  char reason[512] = "";
  if (rk_actor_new (&cfg, &a, reason, sizeof reason) < 0) {
    ret = spectrum_fail (why, why_len, "rk_actor_new: %s", reason);
    goto done;
  }
  /* each kind in an FFT of its own, the last FFT clean; the interval is the whole command */
  for (int round = 0; round < 4 && ret == 0; round++) {
    for (uint32_t f = 0; f < frames; f++)
      audio[f] = 0.25f * sinf (0.05f * (float) f);
    if (round < 3)
      audio[nfft / 3 + round * nfft] = odd[round];
    else
      audio[nfft / 2] = odd[3];
    rk_spectrum_planner plan;
    rk_spectrum_planner_init (&plan, bands, (uint64_t) frames * 1000000000ull / 8000, 8000);
    uint32_t n_ev = 0;
    rk_spectrum_plan (&plan, frames, ev, 8, &n_ev, NULL);
    const rk_spectrum_cmd c = { .format = RK_SPECTRUM_F32, .channels = 1, .frames = frames,
      .flags = RK_SPECTRUM_F_MAGNITUDE | RK_SPECTRUM_F_PHASE | RK_SPECTRUM_F_RESTART, .threshold = -90 };
    const uint32_t len = rk_spectrum_command_write (cmd, &c, ev, n_ev, audio);
    uint32_t want_len = 0;
    const uint32_t st = h->process (ref, params, cmd, len, (uint8_t *) want, out_cap, &want_len);
    rk_record rec = { .type = RK_CMD_PROCESS };
    rk_answer ans;
    if (rk_actor_submit (a, &rec, cmd, len, want_len, SPECTRUM_CHECK_TIMEOUT) < 0
        || rk_actor_receive (a, &ans, SPECTRUM_CHECK_TIMEOUT) < 0) {
      ret = spectrum_fail (why, why_len, "round %d: the actor did not answer", round);
      break;
    }
    if (st != RK_STATUS_OK || want_len != out_cap || ans.rec.status != RK_STATUS_OK || ans.rec.len != want_len) {
      ret = spectrum_fail (why, why_len, "round %d: answered %u with %u bytes, the reference %u with %u",
          round, ans.rec.status, ans.rec.len, st, want_len);
    } else {
      double wd = 0, wr = 0;
      const float *got = (const float *) rk_answer_data (&ans);
      long i = spectrum_compare (got, want, want_len, c.flags, bands, tol_db, tol_rad, &wd, &wr);
      if (i >= 0)
        ret = spectrum_fail (why, why_len, "round %d (%g): value %ld: %.9g, the reference %.9g", round,
            (double) (round < 3 ? odd[round] : odd[3]), i, got[i], want[i]);
    }
    rk_actor_release_output (a, ans.out_token);
  }
done:
  if (a)
    rk_actor_unref (a);
  free (ref);
  free (audio);
  free (want);
  free (cmd);
  return ret;
}

#endif /* RK_SPECTRUM_CHECK_H */
