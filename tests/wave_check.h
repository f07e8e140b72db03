/* gst-ringkernel tests: a wave actor on some backend against the C reference, command by command.
 *
 * wave_check () starts an actor of the "wave" handler and drives it with a random sequence of
 * impulses, frames (every format, random steps and row strides), live parameter changes, resets and
 * malformed commands, while a model built from core/rk_wave.c's reference functions does the same.
 * Every frame must equal the model's, byte for byte (the float32 field included: every backend rounds
 * as the reference does). Shared by the CPU tests and the GPU tests.
 */
#ifndef RK_WAVE_CHECK_H
#define RK_WAVE_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk_actor.h"
#include "rk_wave.h"

#define WAVE_CHECK_TIMEOUT 30000000000ll

/* A device that flushes float32 subnormals to zero (Vulkan where the device does not promise to keep
 * them: NVIDIA's driver) is held to the reference computed the same way: every float operation of the
 * step and the impulse with subnormal operands and results flushed to zero of the same sign
 * (rk_ref_wave_step_flushed). Set this for such a device; the comparison stays bit for bit. */
static int wave_check_flush_subnormals;

typedef struct wave_model {
  double p[RK_MAX_PARAMS];
  uint32_t w, h, d, cur;
  float *f[2];
  uint64_t rng;
} wave_model;

static uint32_t
wave_rnd (wave_model *m)
{
  m->rng ^= m->rng << 13;
  m->rng ^= m->rng >> 7;
  m->rng ^= m->rng << 17;
  return (uint32_t) (m->rng >> 16);
}

/* Uniform in [0, 1). */
static double
wave_unit (wave_model *m)
{
  return (double) wave_rnd (m) / 4294967296.0;
}

static int
wave_fail (char *why, size_t why_len, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (why, why_len, fmt, ap);
  va_end (ap);
  return -1;
}

static int
wave_call (rk_actor *a, uint32_t type, uint32_t aux, double value, const void *payload, uint32_t len,
    uint32_t out_cap, rk_answer *ans)
{
  rk_record rec = { .type = type };
  if (type == RK_CMD_SET_PARAM) {
    rec.u.desc.aux = aux;
    memcpy (&rec.u.desc.arg, &value, sizeof value);
  }
  if (rk_actor_submit (a, &rec, payload, len, out_cap, WAVE_CHECK_TIMEOUT) < 0)
    return -1;
  if (rk_actor_receive (a, ans, WAVE_CHECK_TIMEOUT) < 0)
    return -1;
  return (int) ans->rec.status;
}

/* Runs `rounds` random commands; 0, or -1 with the first difference in why. */
static int
wave_check (const rk_backend_ops *ops, rk_actor_mode mode, uint32_t w, uint32_t h, uint32_t d,
    uint64_t seed, int rounds, char *why, size_t why_len)
{
  wave_model m = { .w = w, .h = h, .d = d, .rng = seed | 1 };
  int ret = 0;
  rk_handler_default_params (rk_handler_find ("wave"), m.p);
  m.p[RK_WAVE_P_WIDTH] = w;
  m.p[RK_WAVE_P_HEIGHT] = h;
  m.p[RK_WAVE_P_DEPTH] = d;
  m.p[RK_WAVE_P_SPEED] = 0.05 + 0.45 * wave_unit (&m);
  m.p[RK_WAVE_P_DAMPING] = 0.01 * wave_unit (&m);
  m.p[RK_WAVE_P_BOUNDARY] = wave_rnd (&m) % 2;
  m.p[RK_WAVE_P_SLICE] = wave_rnd (&m) % d;
  m.p[RK_WAVE_P_GAIN] = 0.5 + 4 * wave_unit (&m);

  const size_t cells = (size_t) w * h * d;
  const uint32_t max_stride = w * 4 + 64;
  const uint32_t out_cap = max_stride * h;
  m.f[0] = calloc (cells, sizeof (float));
  m.f[1] = calloc (cells, sizeof (float));
  uint8_t *want = malloc (out_cap);
  uint64_t arena = ((uint64_t) out_cap * 4 + (1 << 20) + RK_ARENA_ALIGN - 1) / RK_ARENA_ALIGN * RK_ARENA_ALIGN;
  rk_actor_config cfg = {
    .backend = ops,
    .handler = rk_handler_find ("wave"),
    .mode = mode,
    .ring_entries = 16,
    .in_arena_size = 1 << 20,
    .out_arena_size = arena,
    .node = 9,
    .params = m.p,
  };
  rk_actor *a = NULL;
  char reason[512] = "";
  if (!m.f[0] || !m.f[1] || !want)
    return wave_fail (why, why_len, "out of memory");
  if (rk_actor_new (&cfg, &a, reason, sizeof reason) < 0) {
    ret = wave_fail (why, why_len, "rk_actor_new: %s", reason);
    goto done;
  }

  for (int r = 0; r < rounds && ret == 0; r++) {
    const uint32_t pick = wave_rnd (&m) % 100;
    rk_answer ans;
    int st;
    if (pick < 25) {
      rk_wave_impulse imp = {
        .op = RK_WAVE_IMPULSE,
        .x = (int32_t) (wave_rnd (&m) % (w + 8)) - 4,
        .y = (int32_t) (wave_rnd (&m) % (h + 8)) - 4,
        .z = (int32_t) (wave_rnd (&m) % (d + 2)) - 1,
        .amplitude = (float) (2 * wave_unit (&m) - 1),
        .radius = (float) (0.5 + 8 * wave_unit (&m)),
      };
      st = wave_call (a, RK_CMD_PROCESS, 0, 0, &imp, sizeof imp, 0, &ans);
      if (st != RK_STATUS_OK)
        ret = wave_fail (why, why_len, "round %d: impulse answered %d", r, st);
      if (wave_check_flush_subnormals)
        rk_ref_wave_impulse_flushed (m.f[m.cur], m.f[m.cur ^ 1], w, h, d, &imp);
      else
        rk_ref_wave_impulse (m.f[m.cur], m.f[m.cur ^ 1], w, h, d, &imp);
    } else if (pick < 80) {
      const uint32_t format = wave_rnd (&m) % RK_WAVE_FMT_COUNT_, bpp = rk_wave_bpp (format);
      rk_wave_frame f = {
        .op = RK_WAVE_FRAME,
        .steps = wave_rnd (&m) % 9,
        .format = format,
        .stride = bpp ? w * bpp + bpp * (wave_rnd (&m) % 16) : 0,
      };
      st = wave_call (a, RK_CMD_PROCESS, 0, 0, &f, sizeof f, out_cap, &ans);
      for (uint32_t k = 0; k < f.steps; k++) {
        if (wave_check_flush_subnormals)
          rk_ref_wave_step_flushed (m.p, m.f[m.cur], m.f[m.cur ^ 1], w, h, d);
        else
          rk_ref_wave_step (m.p, m.f[m.cur], m.f[m.cur ^ 1], w, h, d);
        m.cur ^= 1;
      }
      const uint32_t len = bpp ? f.stride * h : 0;
      if (st != RK_STATUS_OK || ans.rec.len != len) {
        ret = wave_fail (why, why_len, "round %d: frame (%u steps, format %u) answered %d, %u bytes", r,
            f.steps, format, st, ans.rec.len);
      } else if (bpp) {
        const uint8_t *got = rk_answer_data (&ans);
        rk_ref_wave_render (m.f[m.cur], w, h, rk_wave_slice (m.p, d), format, f.stride,
            (float) m.p[RK_WAVE_P_GAIN], want);
        for (uint32_t y = 0; y < h && ret == 0; y++)
          for (uint32_t x = 0; x < w * bpp && ret == 0; x++)
            if (got[y * f.stride + x] != want[y * f.stride + x])
              ret = wave_fail (why, why_len, "round %d: format %u, cell (%u, %u), byte %u: %u, want %u",
                  r, format, x / bpp, y, x % bpp, got[y * f.stride + x], want[y * f.stride + x]);
      }
    } else if (pick < 92) {
      /* a live parameter; the grid's shape is refused */
      static const uint32_t live[] = { RK_WAVE_P_SPEED, RK_WAVE_P_DAMPING, RK_WAVE_P_BOUNDARY,
        RK_WAVE_P_SLICE, RK_WAVE_P_GAIN };
      const uint32_t i = live[wave_rnd (&m) % 5];
      double v = i == RK_WAVE_P_SPEED ? 0.5 * wave_unit (&m)
          : i == RK_WAVE_P_DAMPING ? 0.02 * wave_unit (&m)
          : i == RK_WAVE_P_BOUNDARY ? wave_rnd (&m) % 2
          : i == RK_WAVE_P_SLICE ? wave_rnd (&m) % d : 0.25 + 4 * wave_unit (&m);
      st = wave_call (a, RK_CMD_SET_PARAM, i, v, NULL, 0, 0, &ans);
      if (st != RK_STATUS_OK)
        ret = wave_fail (why, why_len, "round %d: set param %u = %g answered %d", r, i, v, st);
      m.p[i] = v;
      st = wave_call (a, RK_CMD_SET_PARAM, RK_WAVE_P_WIDTH, w + 1, NULL, 0, 0, &ans);
      if (st != RK_STATUS_INVALID)
        ret = wave_fail (why, why_len, "round %d: set width answered %d, want INVALID", r, st);
      st = wave_call (a, RK_CMD_SET_PARAM, RK_WAVE_P_SPEED, 0.75, NULL, 0, 0, &ans);
      if (st != RK_STATUS_INVALID)
        ret = wave_fail (why, why_len, "round %d: speed 0.75 answered %d, want INVALID", r, st);
    } else if (pick < 95) {
      rk_wave_reset z = { .op = RK_WAVE_RESET };
      st = wave_call (a, RK_CMD_PROCESS, 0, 0, &z, sizeof z, 0, &ans);
      if (st != RK_STATUS_OK)
        ret = wave_fail (why, why_len, "round %d: reset answered %d", r, st);
      memset (m.f[0], 0, cells * sizeof (float));
      memset (m.f[1], 0, cells * sizeof (float));
      m.cur = 0;
    } else {
      /* malformed: an unknown op, a short command, a bad format, a stride too small, no room */
      uint8_t bad[32] = { 0 };
      rk_wave_frame f = { .op = RK_WAVE_FRAME, .steps = 3, .format = RK_WAVE_FMT_RGBA, .stride = w * 4 };
      uint32_t len = sizeof f, cap = out_cap, want_st = RK_STATUS_INVALID;
      switch (wave_rnd (&m) % 5) {
        case 0: f.op = 77; break;
        case 1: len = 8; break;
        case 2: f.format = RK_WAVE_FMT_COUNT_; break;
        case 3: f.stride = w * 4 - 4; break;
        default:
          /* no room (a frame small enough to come back in the record itself always has room) */
          if (w * 4 * h > 2 * RK_INLINE_MAX) {
            cap = w * 4 * h - 1;
            want_st = RK_STATUS_TOO_LARGE;
          } else {
            f.op = 0;
          }
          break;
      }
      memcpy (bad, &f, sizeof f);
      st = wave_call (a, RK_CMD_PROCESS, 0, 0, bad, len, cap, &ans);
      if (st != (int) want_st || !(ans.rec.flags & RK_REC_F_ERROR))
        ret = wave_fail (why, why_len, "round %d: malformed command answered %d, want %u", r, st,
            want_st);
    }
    if (ret == 0)
      rk_actor_release_output (a, ans.out_token);
  }
  if (rk_actor_stop (a, WAVE_CHECK_TIMEOUT) < 0 && ret == 0)
    ret = wave_fail (why, why_len, "the actor did not stop");
  rk_actor_unref (a);
done:
  free (m.f[0]);
  free (m.f[1]);
  free (want);
  return ret;
}

#endif /* RK_WAVE_CHECK_H */
