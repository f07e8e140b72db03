/* gst-ringkernel: the wave simulation, C reference (see rk_wave.h). */
#include "rk_wave.h"

#include <math.h>
#include <string.h>

#include "rk_handlers.h"

static int
dims_of (const double *params, uint32_t *w, uint32_t *h, uint32_t *d)
{
  const double pw = params[RK_WAVE_P_WIDTH], ph = params[RK_WAVE_P_HEIGHT];
  const double pd = params[RK_WAVE_P_DEPTH];
  if (!(pw >= 1 && pw <= RK_WAVE_MAX_SIDE && ph >= 1 && ph <= RK_WAVE_MAX_SIDE && pd >= 1
          && pd <= RK_WAVE_MAX_DEPTH))
    return 0;
  *w = (uint32_t) pw;
  *h = (uint32_t) ph;
  *d = (uint32_t) pd;
  return (uint64_t) *w * *h * *d <= RK_WAVE_MAX_CELLS;
}

size_t
rk_wave_state_size (const double *params)
{
  uint32_t w, h, d;
  if (!dims_of (params, &w, &h, &d))
    return 0;
  return RK_WAVE_FIELD_OFF + 2 * rk_wave_field_bytes (w, h, d);
}

/* Float operations as a device that flushes float32 subnormals does them: operands and results below
 * the smallest normal float become zero of the same sign. */
static inline float
ftz (float x)
{
  return fabsf (x) < 0x1p-126f ? copysignf (0.0f, x) : x;
}

static inline float
add_f (float a, float b, int flush)
{
  return flush ? ftz (rk_fadd (ftz (a), ftz (b))) : rk_fadd (a, b);
}

static void
wave_step (const double *params, const float *u, float *prev, uint32_t w, uint32_t h, uint32_t d,
    int flush)
{
  const float c = (float) params[RK_WAVE_P_SPEED];
  const float c2 = rk_fmul (c, c);
  const float keep0 = rk_fsub (1.0f, (float) params[RK_WAVE_P_DAMPING]);
  const int absorbing = params[RK_WAVE_P_BOUNDARY] == RK_WAVE_ABSORBING;
  const uint32_t band = absorbing ? rk_wave_band (w, h, d) : 0;
  const size_t plane = (size_t) w * h;
  const float k = d > 1 ? 6.0f : 4.0f;

  for (uint32_t z = 0; z < d; z++)
    for (uint32_t y = 0; y < h; y++)
      for (uint32_t x = 0; x < w; x++) {
        const size_t i = z * plane + (size_t) y * w + x;
        const float uc = u[i];
        const float l = x > 0 ? u[i - 1] : uc, r = x + 1 < w ? u[i + 1] : uc;
        const float dn = y > 0 ? u[i - w] : uc, up = y + 1 < h ? u[i + w] : uc;
        float nsum = add_f (add_f (l, r, flush), add_f (dn, up, flush), flush);
        if (d > 1) {
          const float bk = z > 0 ? u[i - plane] : uc, fr = z + 1 < d ? u[i + plane] : uc;
          nsum = add_f (nsum, add_f (bk, fr, flush), flush);
        }
        const float keep = absorbing ? rk_wave_keep (x, y, z, w, h, d, band, keep0) : keep0;
        if (!flush) {
          prev[i] = rk_wave_update (uc, prev[i], nsum, k, c2, keep);
        } else { /* rk_wave_update, every operation flushed */
          const float p = ftz (prev[i]), v = ftz (uc);
          const float lap = ftz (rk_fsub (ftz (nsum), ftz (rk_fmul (k, v))));
          const float damped = ftz (rk_fadd (v, ftz (rk_fmul (keep, ftz (rk_fsub (v, p))))));
          prev[i] = ftz (rk_fadd (damped, ftz (rk_fmul (c2, lap))));
        }
      }
}

void
rk_ref_wave_step (const double *params, const float *u, float *prev, uint32_t w, uint32_t h,
    uint32_t d)
{
  wave_step (params, u, prev, w, h, d, 0);
}

void
rk_ref_wave_step_flushed (const double *params, const float *u, float *prev, uint32_t w, uint32_t h,
    uint32_t d)
{
  wave_step (params, u, prev, w, h, d, 1);
}

static void
wave_impulse (float *u, float *prev, uint32_t w, uint32_t h, uint32_t d, const rk_wave_impulse *imp,
    int flush)
{
  const int32_t r = (int32_t) imp->radius + 1;
  /* 2D: the plane itself, whatever z says */
  const int32_t z0 = d > 1 ? imp->z - r : 0, z1 = d > 1 ? imp->z + r : 0;
  for (int32_t z = z0; z <= z1; z++) {
    if (z < 0 || z >= (int32_t) d)
      continue;
    for (int32_t y = imp->y - r; y <= imp->y + r; y++) {
      if (y < 0 || y >= (int32_t) h)
        continue;
      for (int32_t x = imp->x - r; x <= imp->x + r; x++) {
        if (x < 0 || x >= (int32_t) w)
          continue;
        const int32_t dx = x - imp->x, dy = y - imp->y, dz = d > 1 ? z - imp->z : 0;
        /* the bump's operands are normal: flushing its result is flushing each of its steps */
        float v = rk_wave_bump ((uint32_t) (dx * dx + dy * dy + dz * dz), imp->amplitude, imp->radius);
        if (flush)
          v = ftz (v);
        const size_t i = ((size_t) z * h + (size_t) y) * w + (size_t) x;
        u[i] = add_f (u[i], v, flush);
        prev[i] = add_f (prev[i], v, flush);
      }
    }
  }
}

void
rk_ref_wave_impulse (float *u, float *prev, uint32_t w, uint32_t h, uint32_t d,
    const rk_wave_impulse *imp)
{
  wave_impulse (u, prev, w, h, d, imp, 0);
}

void
rk_ref_wave_impulse_flushed (float *u, float *prev, uint32_t w, uint32_t h, uint32_t d,
    const rk_wave_impulse *imp)
{
  wave_impulse (u, prev, w, h, d, imp, 1);
}

void
rk_ref_wave_render (const float *u, uint32_t w, uint32_t h, uint32_t z, uint32_t format,
    uint32_t stride, float gain, uint8_t *out)
{
  const float *s = u + (size_t) z * w * h;
  for (uint32_t y = 0; y < h; y++) {
    uint8_t *row = out + (size_t) y * stride;
    for (uint32_t x = 0; x < w; x++) {
      const float v = s[(size_t) y * w + x];
      if (format == RK_WAVE_FMT_F32) {
        memcpy (row + 4 * x, &v, 4);
      } else {
        const uint32_t level = rk_wave_level (v, gain);
        if (format == RK_WAVE_FMT_GRAY16) {
          row[2 * x] = (uint8_t) level;
          row[2 * x + 1] = (uint8_t) (level >> 8);
        } else {
          const uint32_t c = rk_wave_rgba (level);
          memcpy (row + 4 * x, &c, 4);
        }
      }
    }
  }
}

/* ---- the handler ---- */

static float *
field (rk_wave_state *s, uint32_t k)
{
  return (float *) ((uint8_t *) s + RK_WAVE_FIELD_OFF
      + k * rk_wave_field_bytes (s->width, s->height, s->depth));
}

static void
wave_init (void *state, const double *params)
{
  rk_wave_state *s = state;
  uint32_t w = 1, h = 1, d = 1;
  dims_of (params, &w, &h, &d);
  memset (s, 0, RK_WAVE_FIELD_OFF);
  s->width = w;
  s->height = h;
  s->depth = d;
  memset (field (s, 0), 0, 2 * rk_wave_field_bytes (w, h, d));
}

static uint32_t
wave_process (void *state, const double *params, const uint8_t *in, uint32_t in_len, uint8_t *out,
    uint32_t out_cap, uint32_t *out_len)
{
  rk_wave_state *s = state;
  const uint32_t w = s->width, h = s->height, d = s->depth;
  uint32_t st = RK_STATUS_OK;

  *out_len = 0;
  switch (rk_wave_command (in, in_len)) {
    case RK_WAVE_FRAME: {
      rk_wave_frame f;
      memcpy (&f, in, sizeof f);
      if ((st = rk_wave_frame_check (&f, w, h, out_cap, out_len)) != RK_STATUS_OK)
        return st;
      for (uint32_t i = 0; i < f.steps; i++) {
        rk_ref_wave_step (params, field (s, s->cur), field (s, s->cur ^ 1), w, h, d);
        s->cur ^= 1;
      }
      s->steps += f.steps;
      if (f.format != RK_WAVE_FMT_NONE)
        rk_ref_wave_render (field (s, s->cur), w, h, rk_wave_slice (params, d), f.format, f.stride,
            (float) params[RK_WAVE_P_GAIN], out);
      return RK_STATUS_OK;
    }
    case RK_WAVE_IMPULSE: {
      rk_wave_impulse imp;
      memcpy (&imp, in, sizeof imp);
      if ((st = rk_wave_impulse_check (&imp)) != RK_STATUS_OK)
        return st;
      rk_ref_wave_impulse (field (s, s->cur), field (s, s->cur ^ 1), w, h, d, &imp);
      return RK_STATUS_OK;
    }
    case RK_WAVE_RESET:
      memset (field (s, 0), 0, 2 * rk_wave_field_bytes (w, h, d));
      s->steps = 0;
      s->cur = 0;
      return RK_STATUS_OK;
    default:
      return RK_STATUS_INVALID;
  }
}

static uint64_t
wave_save (const void *state, uint8_t *buf, uint64_t cap, uint32_t *status)
{
  const rk_wave_state *s = state;
  const uint64_t len = RK_WAVE_FIELD_OFF + 2 * rk_wave_field_bytes (s->width, s->height, s->depth);
  if (cap < len) {
    *status = RK_STATUS_TOO_LARGE;
    return len;
  }
  memcpy (buf, s, len);
  return len;
}

static uint32_t
wave_load (void *state, const uint8_t *buf, uint64_t len)
{
  rk_wave_state *s = state, head;
  if (len < sizeof head)
    return RK_STATUS_BAD_CHECKPOINT;
  memcpy (&head, buf, sizeof head);
  if (head.width != s->width || head.height != s->height || head.depth != s->depth || head.cur > 1
      || len != RK_WAVE_FIELD_OFF + 2 * rk_wave_field_bytes (s->width, s->height, s->depth))
    return RK_STATUS_BAD_CHECKPOINT;
  memcpy (s, buf, len);
  return RK_STATUS_OK;
}

const rk_handler rk_wave_handler = {
  .name = "wave",
  .id = RK_KERNEL_WAVE,
  .blurb = "a 2D or 3D acoustic wave simulation whose field lives in the actor (rkwavesrc)",
  .caps = NULL,
  .unit = 1,
  .n_params = RK_WAVE_N_PARAMS,
  .params = {
    { "width", "grid width, cells", 256, 1, RK_WAVE_MAX_SIDE },
    { "height", "grid height, cells", 256, 1, RK_WAVE_MAX_SIDE },
    { "depth", "grid depth, cells (1: 2D)", 1, 1, RK_WAVE_MAX_DEPTH },
    { "speed", "wave speed, cells per step (Courant number)", 0.4, 0.0, 0.5 },
    { "damping", "fraction of the velocity lost per step", 0.001, 0.0, 1.0 },
    { "boundary", "0: reflecting edges, 1: absorbing edges", 0, 0, 1 },
    { "slice", "3D: the z of the slice that frames show", 0, 0, RK_WAVE_MAX_DEPTH - 1 },
    { "gain", "frames show the field times this, clipped to [-1, 1]", 1.0, 1e-6, 1e6 },
  },
  .fixed_params = RK_WAVE_FIXED_PARAMS,
  .state_size_for = rk_wave_state_size,
  .init = wave_init,
  .process = wave_process,
  .save = wave_save,
  .load = wave_load,
};
