/* gst-ringkernel: the wave simulation behind rkwavesrc (handler "wave").
 *
 * A scalar field u lives on a grid of W x H cells (W x H x D in 3D mode). Each step applies the damped
 * wave equation, discretised by central differences (leapfrog in time, a 5- or 7-point Laplacian in
 * space):
 *
 *   u_next = (u + keep * (u - u_prev)) + C^2 * lap (u),   keep = (1 - damping) * (1 - sponge)
 *
 * where C is the Courant number (`speed`, in cells per step; stable up to 1/sqrt(dimensions), and held
 * to at most 0.5 here). Edges reflect: the missing neighbour of an edge cell is the cell itself (a
 * rigid wall, zero gradient). With boundary=absorbing, a sponge band along the edges damps what enters
 * it, so that little comes back.
 *
 * The state is a header and two fields; a step writes u_next over u_prev and swaps their roles. Every
 * per-cell formula is here, as inline functions that C and CUDA both compile, with each rounding
 * written out (no fused multiply-add), so that every backend computes the same bits.
 */
#ifndef RK_WAVE_H
#define RK_WAVE_H

#include <stddef.h>
#include <stdint.h>

#include "rk_abi.h"
#include "rk_float.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parameters of the wave handler, in order. WIDTH, HEIGHT and DEPTH are fixed once the actor runs. */
enum rk_wave_param {
  RK_WAVE_P_WIDTH = 0,
  RK_WAVE_P_HEIGHT = 1,
  RK_WAVE_P_DEPTH = 2,    /* 1: a 2D grid */
  RK_WAVE_P_SPEED = 3,    /* Courant number C, cells per step */
  RK_WAVE_P_DAMPING = 4,  /* fraction of the velocity lost per step */
  RK_WAVE_P_BOUNDARY = 5, /* enum rk_wave_boundary */
  RK_WAVE_P_SLICE = 6,    /* 3D: the z of the slice that frames show */
  RK_WAVE_P_GAIN = 7,     /* frames show u * gain, clipped to [-1, 1] */
  RK_WAVE_N_PARAMS
};
#define RK_WAVE_FIXED_PARAMS ((1u << RK_WAVE_P_WIDTH) | (1u << RK_WAVE_P_HEIGHT) | (1u << RK_WAVE_P_DEPTH))

enum rk_wave_boundary {
  RK_WAVE_REFLECTING = 0,
  RK_WAVE_ABSORBING = 1,
};

#define RK_WAVE_MAX_SIDE 16384u
#define RK_WAVE_MAX_DEPTH 1024u
#define RK_WAVE_MAX_CELLS (1u << 28) /* 2 fields of 1 GiB each */
#define RK_WAVE_MAX_RADIUS 64.0f

/* Commands: the payload of a PROCESS record to the wave actor starts with its op. */
enum rk_wave_op {
  RK_WAVE_FRAME = 1,   /* rk_wave_frame: advance `steps` steps, then write a frame (or nothing) */
  RK_WAVE_IMPULSE = 2, /* rk_wave_impulse: add a bump to the field, at rest */
  RK_WAVE_RESET = 3,   /* rk_wave_reset: the field back to zero */
};

/* How a frame is written: rows of `stride` bytes, the grid's W x H (the slice, in 3D). */
enum rk_wave_format {
  RK_WAVE_FMT_NONE = 0,   /* no frame: the answer is empty */
  RK_WAVE_FMT_GRAY16 = 1, /* 16-bit little-endian, 0 = -1, 65535 = +1 */
  RK_WAVE_FMT_RGBA = 2,   /* a blue-white-red colour map, 8 bits per channel, R first */
  RK_WAVE_FMT_F32 = 3,    /* the field itself, float32 (no gain, no clipping) */
  RK_WAVE_FMT_COUNT_
};

typedef struct rk_wave_frame {
  uint32_t op;     /* RK_WAVE_FRAME */
  uint32_t steps;  /* steps before the frame */
  uint32_t format; /* enum rk_wave_format */
  uint32_t stride; /* bytes per row, at least width * bytes per pixel */
} rk_wave_frame;

typedef struct rk_wave_impulse {
  uint32_t op; /* RK_WAVE_IMPULSE */
  int32_t x, y, z;
  float amplitude;
  float radius; /* cells, 0.5 .. RK_WAVE_MAX_RADIUS: the bump is amplitude * (1 - r^2/radius^2)^2 */
} rk_wave_impulse;

typedef struct rk_wave_reset {
  uint32_t op; /* RK_WAVE_RESET */
  uint32_t reserved_;
} rk_wave_reset;

RK_STATIC_ASSERT (sizeof (rk_wave_frame) <= RK_INLINE_MAX, "a frame command fits in a record");
RK_STATIC_ASSERT (sizeof (rk_wave_impulse) <= RK_INLINE_MAX, "an impulse fits in a record");

/* The actor's state: this header, then field 0 and field 1 at RK_WAVE_FIELD_OFF and
 * RK_WAVE_FIELD_OFF + rk_wave_field_bytes (). Field `cur` holds u, the other u_prev. */
typedef struct rk_wave_state {
  uint64_t steps; /* steps done since the start (or the last reset) */
  uint32_t cur;   /* 0 or 1 */
  uint32_t width, height, depth;
  uint32_t reserved_[2];
} rk_wave_state;
#define RK_WAVE_FIELD_OFF 256u
RK_STATIC_ASSERT (sizeof (rk_wave_state) == 32, "rk_wave_state is 32 bytes");

/* ---- what C and device code share ---- */

#define RK_WAVE_FN RK_FLOAT_FN

/* Bytes of one field, rounded up to RK_ARENA_ALIGN. */
RK_WAVE_FN uint64_t
rk_wave_field_bytes (uint32_t w, uint32_t h, uint32_t d)
{
  uint64_t b = (uint64_t) w * h * d * sizeof (float);
  return (b + RK_ARENA_ALIGN - 1) / RK_ARENA_ALIGN * RK_ARENA_ALIGN;
}

/* Width of the absorbing band along each edge, in cells. */
RK_WAVE_FN uint32_t
rk_wave_band (uint32_t w, uint32_t h, uint32_t d)
{
  uint32_t m = w < h ? w : h;
  if (d > 1 && d < m)
    m = d;
  uint32_t b = m / 12;
  return b < 4 ? (m / 2 < 4 ? m / 2 : 4) : b;
}

/* keep (see above) for cell (x, y, z); keep0 = 1 - damping. */
RK_WAVE_FN float
rk_wave_keep (uint32_t x, uint32_t y, uint32_t z, uint32_t w, uint32_t h, uint32_t d, uint32_t band,
    float keep0)
{
  uint32_t e = x < w - 1 - x ? x : w - 1 - x;
  uint32_t ey = y < h - 1 - y ? y : h - 1 - y;
  e = ey < e ? ey : e;
  if (d > 1) {
    uint32_t ez = z < d - 1 - z ? z : d - 1 - z;
    e = ez < e ? ez : e;
  }
  if (e >= band)
    return keep0;
  const float q = rk_fdiv ((float) (band - e), (float) band);
  const float sponge = rk_fmul (rk_fmul (0.15f, q), q);
  return rk_fmul (keep0, rk_fsub (1.0f, sponge));
}

/* u_next from u, u_prev and the sum of the neighbours (((l + r) + (dn + up)) [+ (back + front)]),
 * with k = 4 (2D) or 6 (3D) and c2 = C^2. */
RK_WAVE_FN float
rk_wave_update (float u, float prev, float nsum, float k, float c2, float keep)
{
  const float lap = rk_fsub (nsum, rk_fmul (k, u));
  return rk_fadd (rk_fadd (u, rk_fmul (keep, rk_fsub (u, prev))), rk_fmul (c2, lap));
}

/* What an impulse adds at squared distance r2 (cells^2) from its centre; 0 outside. */
RK_WAVE_FN float
rk_wave_bump (uint32_t r2, float amplitude, float radius)
{
  const float rr = rk_fmul (radius, radius);
  if (!((float) r2 < rr))
    return 0.0f;
  const float s = rk_fsub (1.0f, rk_fdiv ((float) r2, rr));
  return rk_fmul (rk_fmul (amplitude, s), s);
}

/* A field value as a 16-bit level: u * gain clipped to [-1, 1] (NaN as -1), mapped onto 0..65535. */
RK_WAVE_FN uint32_t
rk_wave_level (float u, float gain)
{
  float t = rk_fmul (u, gain);
  if (!(t > -1.0f))
    t = -1.0f;
  if (t > 1.0f)
    t = 1.0f;
  return (uint32_t) rk_fmul (rk_fadd (t, 1.0f), 32767.5f);
}

/* The colour of a level, as RGBA bytes in memory order (a little-endian word): blue for negative
 * values, white at zero, red for positive ones. */
RK_WAVE_FN uint32_t
rk_wave_rgba (uint32_t level)
{
  const uint32_t i = level >> 8;
  uint32_t r, g, b;
  if (i < 128) {
    r = g = 2 * i;
    b = 255;
  } else {
    r = 255;
    g = b = 2 * (255 - i);
  }
  return r | g << 8 | b << 16 | 0xffu << 24;
}

RK_WAVE_FN uint32_t
rk_wave_bpp (uint32_t format)
{
  return format == RK_WAVE_FMT_GRAY16 ? 2 : format == RK_WAVE_FMT_NONE ? 0 : 4;
}

/* Checks of a command, shared by every backend. */
/* Check a command's length against its op. Returns the op, or 0. */
RK_WAVE_FN uint32_t
rk_wave_command (const uint8_t *in, uint32_t len)
{
  uint32_t op;
  if (len < sizeof op)
    return 0;
  op = (uint32_t) in[0] | (uint32_t) in[1] << 8 | (uint32_t) in[2] << 16 | (uint32_t) in[3] << 24;
  switch (op) {
    case RK_WAVE_FRAME: return len == sizeof (rk_wave_frame) ? op : 0;
    case RK_WAVE_IMPULSE: return len == sizeof (rk_wave_impulse) ? op : 0;
    case RK_WAVE_RESET: return len == sizeof (rk_wave_reset) ? op : 0;
    default: return 0;
  }
}

RK_WAVE_FN uint32_t
rk_wave_frame_check (const rk_wave_frame *f, uint32_t w, uint32_t h, uint32_t out_cap,
    uint32_t *out_len)
{
  if (f->format >= RK_WAVE_FMT_COUNT_)
    return RK_STATUS_INVALID;
  const uint64_t bpp = rk_wave_bpp (f->format);
  if (bpp && (f->stride < bpp * w || f->stride % bpp))
    return RK_STATUS_INVALID;
  const uint64_t len = bpp ? (uint64_t) f->stride * h : 0;
  if (len > out_cap)
    return RK_STATUS_TOO_LARGE;
  *out_len = (uint32_t) len;
  return RK_STATUS_OK;
}

RK_WAVE_FN uint32_t
rk_wave_impulse_check (const rk_wave_impulse *imp)
{
  return imp->radius >= 0.5f && imp->radius <= RK_WAVE_MAX_RADIUS && imp->amplitude == imp->amplitude
      && imp->amplitude > -1e6f && imp->amplitude < 1e6f ? RK_STATUS_OK : RK_STATUS_INVALID;
}

RK_WAVE_FN uint32_t
rk_wave_slice (const double *params, uint32_t d)
{
  const double z = params[RK_WAVE_P_SLICE];
  return z >= d ? d - 1 : (uint32_t) z;
}

/* ---- C reference ---- */

/* Bytes of state for these parameters, or 0 when the grid is out of range. */
size_t rk_wave_state_size (const double *params);
/* One step over the whole grid: reads u and prev, writes u_next over prev. */
void rk_ref_wave_step (const double *params, const float *u, float *prev, uint32_t w, uint32_t h,
    uint32_t d);
/* Add an impulse to u and prev. */
void rk_ref_wave_impulse (float *u, float *prev, uint32_t w, uint32_t h, uint32_t d,
    const rk_wave_impulse *imp);
/* The same two for a device that flushes float32 subnormals to zero (operands and results), as
 * Vulkan does on a device that does not promise to keep them (NVIDIA's driver): what such a device
 * computes, bit for bit. */
void rk_ref_wave_step_flushed (const double *params, const float *u, float *prev, uint32_t w, uint32_t h,
    uint32_t d);
void rk_ref_wave_impulse_flushed (float *u, float *prev, uint32_t w, uint32_t h, uint32_t d,
    const rk_wave_impulse *imp);
/* Write the frame of field u (the slice `z`, in 3D) in format into out (h rows of stride bytes). */
void rk_ref_wave_render (const float *u, uint32_t w, uint32_t h, uint32_t z, uint32_t format,
    uint32_t stride, float gain, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif /* RK_WAVE_H */
