/* gst-ringkernel: CUDA device code of the actors.
 *
 * A persistent actor is one cooperative kernel launched when its element starts. Block 0 leads: its
 * first thread polls the H2K ring in mapped host memory (one load-acquire of head), then the whole block
 * reads up to MAX_BATCH records with 16-byte vector loads in one round trip. Small records of a
 * stateless handler are served four threads to a record, all of them side by side, from payloads the
 * block first gathers into shared memory (again one round trip for all of them); anything else is
 * served by the whole block.
 * Thread 0 publishes the batch's answers on the K2H ring with one fence. A payload of grid_threshold bytes or more is split over every
 * block of the grid: the leader publishes a work item in device memory, the worker blocks (which
 * otherwise wait on that item, in device memory, never in mapped memory) each take their slice, and
 * count themselves done. Command semantics follow core/rk_ref_actor.c record for record; the handlers
 * follow core/rk_handlers.c to the bit (no contraction of a*x+b into an FMA).
 */
#ifndef __CUDACC_RTC__
#include <cuda_runtime.h>
#include <stdlib.h>
#endif
#include <stdint.h>

#include "rk_cuda.h"
#include "rk_handlers.h"
#include "rk_hlc.h"
#include "rk_link.h"
#include "rk_ll.h"
#include "rk_spectrum.h"
#include "rk_wave.h"

#define MAX_BATCH (RK_CUDA_BLOCK / 4) /* records read in one round trip (4 threads, 16 bytes each) */
#define SMALL_LANES 4       /* threads that serve one small record */
#define SMALL_MAX_BYTES 1024 /* a stateless record this small is served by SMALL_LANES threads */
#define AHEAD_LOADS 8       /* 16-byte loads a lane of warp 0 has in flight to read a payload ahead */
/* of a record that comes alone, read with the record itself (one round trip), and served by one warp */
#define PREFETCH_BYTES (AHEAD_LOADS * 32 * 16)
/* A linked record that comes alone is served by one warp up to this size only: the block serves a
 * 4 KiB one faster (a hop of 2.2 us, against 3.9 by one warp, on the H100) */
#define LINK_ALONE_BYTES 512
static_assert (MAX_BATCH == 64, "a batch's records are one 64-bit mask");
#define STAGE_BYTES 16384   /* small payloads of a batch, read by the whole block in one round trip */
#define PAUSED_POLL_NS 20000
#define BEAT_NS 1000000ull
#define RESIDENT_WAIT_NS 500000000ull /* a block that has not started by then waits for room */

/* ---- memory ordering on mapped memory (system scope) and device memory (gpu scope) ---- */

__device__ __forceinline__ uint64_t
ld_acquire_sys (const uint64_t *p)
{
  uint64_t v;
  asm volatile ("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ void
st_release_sys (uint64_t *p, uint64_t v)
{
  asm volatile ("st.release.sys.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

__device__ __forceinline__ void
st_relaxed_sys64 (uint64_t *p, uint64_t v)
{
  asm volatile ("st.relaxed.sys.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

__device__ __forceinline__ void
st_relaxed_sys32 (uint32_t *p, uint32_t v)
{
  asm volatile ("st.relaxed.sys.global.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

__device__ __forceinline__ uint64_t
ld_relaxed_sys64 (const uint64_t *p)
{
  uint64_t v;
  asm volatile ("ld.relaxed.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ uint32_t
ld_relaxed_sys32 (const uint32_t *p)
{
  uint32_t v;
  asm volatile ("ld.relaxed.sys.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ void
st_release_sys32 (uint32_t *p, uint32_t v)
{
  asm volatile ("st.release.sys.global.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

__device__ __forceinline__ uint64_t
ld_acquire_gpu (const uint64_t *p)
{
  uint64_t v;
  asm volatile ("ld.acquire.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ uint64_t
ld_relaxed_gpu64 (const uint64_t *p)
{
  uint64_t v;
  asm volatile ("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
  return v;
}

/* A line of a low-latency mirror (core/rk_ll.h): two 8-byte words, each single-copy atomic. */
__device__ __forceinline__ ulonglong2
ld_ll (const rk_ll_line *p)
{
  ulonglong2 v;
  asm volatile ("ld.relaxed.gpu.global.v2.u64 {%0, %1}, [%2];" : "=l"(v.x), "=l"(v.y) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ ulonglong2
ld_ll_sys (const rk_ll_line *p)
{
  ulonglong2 v;
  asm volatile ("ld.relaxed.sys.global.v2.u64 {%0, %1}, [%2];" : "=l"(v.x), "=l"(v.y) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ void
st_ll (rk_ll_line *p, uint64_t w0, uint64_t w1)
{
  asm volatile ("st.relaxed.gpu.global.v2.u64 [%0], {%1, %2};" ::"l"(p), "l"(w0), "l"(w1) : "memory");
}

__device__ __forceinline__ void
st_ll_sys (rk_ll_line *p, uint64_t w0, uint64_t w1)
{
  asm volatile ("st.relaxed.sys.global.v2.u64 [%0], {%1, %2};" ::"l"(p), "l"(w0), "l"(w1) : "memory");
}

__device__ __forceinline__ uint32_t
ld_relaxed_gpu32 (const uint32_t *p)
{
  uint32_t v;
  asm volatile ("ld.relaxed.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ void
st_relaxed_gpu (uint64_t *p, uint64_t v)
{
  asm volatile ("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

__device__ __forceinline__ void
st_release_gpu (uint64_t *p, uint64_t v)
{
  asm volatile ("st.release.gpu.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

__device__ __forceinline__ uint32_t
ld_acquire_gpu32 (const uint32_t *p)
{
  uint32_t v;
  asm volatile ("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ void
st_release_gpu32 (uint32_t *p, uint32_t v)
{
  asm volatile ("st.release.gpu.global.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

__device__ __forceinline__ uint64_t
globaltimer (void)
{
  uint64_t t;
  asm volatile ("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

#ifdef RK_USER_HANDLER
/* defined by the kernel file compiled with this source (see gpu/cuda/rk_cuda.c) */
extern "C" __device__ RK_USER_PROCESS_SIGNATURE;
#endif

/* 16 bytes of mapped memory in one load / store, bypassing the non-coherent L1 */
__device__ __forceinline__ uint4
ld_relaxed_sys_v4 (const void *p)
{
  uint4 v;
  asm volatile ("ld.relaxed.sys.global.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ void
st_relaxed_sys_v2 (uint2 *p, uint2 v)
{
  asm volatile ("st.relaxed.sys.global.v2.u32 [%0], {%1, %2};" ::"l"(p), "r"(v.x), "r"(v.y) : "memory");
}

__device__ __forceinline__ void
st_relaxed_sys_v4 (void *p, uint4 v)
{
  asm volatile ("st.relaxed.sys.global.v4.u32 [%0], {%1, %2, %3, %4};"
      ::"l"(p), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w) : "memory");
}

/* ---- handlers, element-wise over [i0, n) with stride ---- */

enum {
  WORK_NONE = 0,
  /* RK_KERNEL_* (1..3): run that handler */
  WORK_ACCUMULATE_RESTART = 0x10, /* clear the sums of the new length, then accumulate */
  WORK_SAVE = 0x11,               /* copy the state out (snapshot) */
  WORK_LOAD = 0x12,               /* copy a state in (restore) */
  /* the wave (core/rk_wave.h) */
  WORK_WAVE_STEP = 0x20,    /* one step: in = u, out = u_prev (overwritten with u_next) */
  WORK_WAVE_RENDER = 0x21,  /* in = the slice of u, out = the frame; a = format, b = row stride */
  WORK_WAVE_IMPULSE = 0x22, /* in = u, out = u_prev, imp */
  WORK_WAVE_CLEAR = 0x23,   /* out = both fields, len floats */
  WORK_WAVE_FRAME = 0x24,   /* the leader's plan: wave_steps steps, then a render (or none) */
  WORK_WAVE_STEPS = 0x25,   /* len steps from in = u, out = u_prev, a grid barrier after each */
  /* the spectrum (core/rk_spectrum.h) */
  WORK_SPECTRUM = 0x30,     /* a command of len bytes at in; the answer to out, a = its room */
};

/* A grid this small is stepped by the leader block alone: no grid-wide barrier per step. */
#define WAVE_GRID_CELLS 16384u

struct Work {
  uint32_t op;
  uint32_t in_mapped; /* input lives in mapped host memory, written by the host after launch */
  const uint8_t *in;
  uint8_t *out;
  uint32_t len; /* bytes */
  double a, b, inv;
  double *sum;
  const double *p; /* every parameter */
  rk_wave_impulse imp;
};

/* Input loads: mapped memory is re-read from the host (ld.cv) since an arena address is reused while
 * the kernel lives; shared or freshly copied device memory is read normally. */
template <typename T>
__device__ __forceinline__ T
ld_in (const Work &w, const T *p)
{
  return w.in_mapped ? __ldcv (p) : *p;
}

/* ---- the wave, cell by cell as core/rk_wave.c (fields are read from L2: other blocks wrote them) ---- */

/* One step over rows [row0, rows) with a stride of `nrows` rows (a row: W cells of one y and z), the
 * threads of the block across each row. Plain loads: the fields were written before a kernel boundary or
 * a grid barrier (whose acquire makes them visible, L1 included). */
__device__ void
wave_step_rows (const Work &w, uint32_t row0, uint32_t nrows)
{
  const uint32_t W = (uint32_t) w.p[RK_WAVE_P_WIDTH], H = (uint32_t) w.p[RK_WAVE_P_HEIGHT];
  const uint32_t D = (uint32_t) w.p[RK_WAVE_P_DEPTH];
  const float c = (float) w.p[RK_WAVE_P_SPEED], c2 = rk_fmul (c, c);
  const float keep0 = rk_fsub (1.0f, (float) w.p[RK_WAVE_P_DAMPING]);
  const bool absorbing = w.p[RK_WAVE_P_BOUNDARY] == RK_WAVE_ABSORBING;
  const uint32_t band = absorbing ? rk_wave_band (W, H, D) : 0;
  const uint32_t plane = W * H;
  const float k = D > 1 ? 6.0f : 4.0f;
  const float *__restrict__ u = (const float *) w.in;
  float *__restrict__ prev = (float *) w.out;
  if ((W & 3) == 0) {
    /* four cells a thread, with 16-byte loads and stores (rows of a multiple of 4 cells start 16-byte
     * aligned): four times the bytes in flight per instruction. The neighbours left and right of the
     * four come from the thread's own vector, or from the next thread's (L1) at its edges. */
    /* The block's rows and the vectors in them as one index, so that rows shorter than the block
     * (256 cells: 64 vectors) still keep every thread busy. */
    const uint32_t W4 = W >> 2, rows = H * D;
    const uint32_t mine = row0 < rows ? (rows - row0 + nrows - 1) / nrows : 0;
#pragma unroll 2
    for (uint32_t t = threadIdx.x; t < mine * W4; t += blockDim.x) {
      const uint32_t r = t / W4, q = t - r * W4, row = row0 + r * nrows;
      const uint32_t y = row % H, z = row / H;
      const bool has_dn = y > 0, has_up = y + 1 < H, has_bk = z > 0, has_fr = z + 1 < D;
      {
        const uint32_t i = row * W + 4 * q;
        const float4 c4 = *(const float4 *) (u + i), p4 = *(const float4 *) (prev + i);
        const float4 dn = has_dn ? *(const float4 *) (u + i - W) : c4;
        const float4 up = has_up ? *(const float4 *) (u + i + W) : c4;
        float4 bk = c4, fr = c4;
        if (D > 1) {
          bk = has_bk ? *(const float4 *) (u + i - plane) : c4;
          fr = has_fr ? *(const float4 *) (u + i + plane) : c4;
        }
        const float cv[4] = { c4.x, c4.y, c4.z, c4.w }, pv[4] = { p4.x, p4.y, p4.z, p4.w };
        const float dv[4] = { dn.x, dn.y, dn.z, dn.w }, uv[4] = { up.x, up.y, up.z, up.w };
        const float bv[4] = { bk.x, bk.y, bk.z, bk.w }, fv[4] = { fr.x, fr.y, fr.z, fr.w };
        const float lft = q > 0 ? u[i - 1] : cv[0], rgt = q + 1 < W4 ? u[i + 4] : cv[3];
        float out[4];
#pragma unroll
        for (int j = 0; j < 4; j++) {
          const float l = j > 0 ? cv[j - 1] : lft, r = j < 3 ? cv[j + 1] : rgt;
          float nsum = rk_fadd (rk_fadd (l, r), rk_fadd (dv[j], uv[j]));
          if (D > 1)
            nsum = rk_fadd (nsum, rk_fadd (bv[j], fv[j]));
          const float keep = absorbing ? rk_wave_keep (4 * q + j, y, z, W, H, D, band, keep0) : keep0;
          out[j] = rk_wave_update (cv[j], pv[j], nsum, k, c2, keep);
        }
        *(float4 *) (prev + i) = make_float4 (out[0], out[1], out[2], out[3]);
      }
    }
    return;
  }
  for (uint32_t row = row0; row < H * D; row += nrows) {
    const uint32_t y = row % H, z = row / H;
    const uint32_t base = row * W;
    const bool has_dn = y > 0, has_up = y + 1 < H, has_bk = z > 0, has_fr = z + 1 < D;
#pragma unroll 4
    for (uint32_t x = threadIdx.x; x < W; x += blockDim.x) {
      const uint32_t i = base + x;
      const float uc = u[i];
      const float l = x > 0 ? u[i - 1] : uc, r = x + 1 < W ? u[i + 1] : uc;
      const float dn = has_dn ? u[i - W] : uc, up = has_up ? u[i + W] : uc;
      float nsum = rk_fadd (rk_fadd (l, r), rk_fadd (dn, up));
      if (D > 1) {
        const float bk = has_bk ? u[i - plane] : uc, fr = has_fr ? u[i + plane] : uc;
        nsum = rk_fadd (nsum, rk_fadd (bk, fr));
      }
      const float keep = absorbing ? rk_wave_keep (x, y, z, W, H, D, band, keep0) : keep0;
      prev[i] = rk_wave_update (uc, prev[i], nsum, k, c2, keep);
    }
  }
}

__device__ void
wave_render_slice (const Work &w, uint32_t i0, uint32_t stride)
{
  const uint32_t W = (uint32_t) w.p[RK_WAVE_P_WIDTH], H = (uint32_t) w.p[RK_WAVE_P_HEIGHT];
  const uint32_t fmt = (uint32_t) w.a, rstride = (uint32_t) w.b;
  const float gain = (float) w.p[RK_WAVE_P_GAIN];
  const float *u = (const float *) w.in;
  for (uint32_t i = i0; i < W * H; i += stride) {
    const uint32_t x = i % W, y = i / W;
    const float v = __ldcg (u + i);
    uint8_t *row = w.out + (size_t) y * rstride;
    if (fmt == RK_WAVE_FMT_F32) {
      ((float *) row)[x] = v;
    } else {
      const uint32_t level = rk_wave_level (v, gain);
      if (fmt == RK_WAVE_FMT_GRAY16)
        ((uint16_t *) row)[x] = (uint16_t) level;
      else
        ((uint32_t *) row)[x] = rk_wave_rgba (level);
    }
  }
}

__device__ void
wave_impulse_slice (const Work &w, uint32_t i0, uint32_t stride)
{
  const int32_t W = (int32_t) w.p[RK_WAVE_P_WIDTH], H = (int32_t) w.p[RK_WAVE_P_HEIGHT];
  const int32_t D = (int32_t) w.p[RK_WAVE_P_DEPTH];
  const rk_wave_impulse &m = w.imp;
  const int32_t r = (int32_t) m.radius + 1, side = 2 * r + 1;
  const uint32_t total = (uint32_t) (side * side * (D > 1 ? side : 1));
  float *u = (float *) w.in, *prev = (float *) w.out;
  for (uint32_t i = i0; i < total; i += stride) {
    const int32_t x = m.x - r + (int32_t) (i % side), y = m.y - r + (int32_t) (i / side % side);
    const int32_t z = D > 1 ? m.z - r + (int32_t) (i / (side * side)) : 0;
    if (x < 0 || x >= W || y < 0 || y >= H || z < 0 || z >= D)
      continue;
    const int32_t dx = x - m.x, dy = y - m.y, dz = D > 1 ? z - m.z : 0;
    const float v = rk_wave_bump ((uint32_t) (dx * dx + dy * dy + dz * dz), m.amplitude, m.radius);
    const size_t at = ((size_t) z * H + y) * W + x;
    u[at] = rk_fadd (__ldcg (u + at), v);
    prev[at] = rk_fadd (__ldcg (prev + at), v);
  }
}

__device__ void
run_slice (const Work &w, uint32_t i0, uint32_t stride)
{
  const bool aligned = !(((uintptr_t) w.in | (uintptr_t) w.out) & 15);
  switch (w.op) {
    case RK_KERNEL_ECHO: {
      uint32_t n16 = aligned ? w.len / 16 : 0;
#pragma unroll 4
      for (uint32_t i = i0; i < n16; i += stride)
        ((uint4 *) w.out)[i] = ld_in (w, (const uint4 *) w.in + i);
      for (uint32_t i = n16 * 16 + i0; i < w.len; i += stride)
        w.out[i] = ld_in (w, w.in + i);
      break;
    }
    case RK_KERNEL_SCALE: {
      const float fa = (float) w.a, fb = (float) w.b;
      const uint32_t n = w.len / 4, n4 = aligned ? n / 4 : 0;
#pragma unroll 4
      for (uint32_t i = i0; i < n4; i += stride) {
        float4 x = ld_in (w, (const float4 *) w.in + i);
        ((float4 *) w.out)[i] = make_float4 (__fadd_rn (__fmul_rn (fa, x.x), fb),
            __fadd_rn (__fmul_rn (fa, x.y), fb), __fadd_rn (__fmul_rn (fa, x.z), fb),
            __fadd_rn (__fmul_rn (fa, x.w), fb));
      }
      if (!(((uintptr_t) w.in | (uintptr_t) w.out) & 3)) {
        for (uint32_t i = n4 * 4 + i0; i < n; i += stride)
          ((float *) w.out)[i] = __fadd_rn (__fmul_rn (fa, ld_in (w, (const float *) w.in + i)), fb);
      } else {
        for (uint32_t i = i0; i < n; i += stride) {
          uint8_t b[4];
          for (int k = 0; k < 4; k++)
            b[k] = ld_in (w, w.in + 4 * i + k);
          float x, y;
          memcpy (&x, b, 4);
          y = __fadd_rn (__fmul_rn (fa, x), fb);
          memcpy (w.out + 4 * i, &y, 4);
        }
      }
      break;
    }
    case RK_KERNEL_STENCIL: {
      /* (l*x[i-1] + c*x[i]) + r*x[i+1], edges clamped, rounded as the C reference rounds */
      const float fl = (float) w.p[0], fc = (float) w.p[1], fr = (float) w.p[2];
      const uint32_t n = w.len / 4;
      if (!(((uintptr_t) w.in | (uintptr_t) w.out) & 3)) {
        const float *x = (const float *) w.in;
        for (uint32_t i = i0; i < n; i += stride) {
          const float xl = ld_in (w, x + (i ? i - 1 : 0)), xc = ld_in (w, x + i);
          const float xr = ld_in (w, x + (i + 1 < n ? i + 1 : n - 1));
          ((float *) w.out)[i] = __fadd_rn (__fadd_rn (__fmul_rn (fl, xl), __fmul_rn (fc, xc)),
              __fmul_rn (fr, xr));
        }
      } else {
        for (uint32_t i = i0; i < n; i += stride) {
          float v[3];
          const uint32_t at[3] = { i ? i - 1 : 0, i, i + 1 < n ? i + 1 : n - 1 };
          for (int j = 0; j < 3; j++) {
            uint8_t b[4];
            for (int k = 0; k < 4; k++)
              b[k] = ld_in (w, w.in + 4 * at[j] + k);
            memcpy (&v[j], b, 4);
          }
          float y = __fadd_rn (__fadd_rn (__fmul_rn (fl, v[0]), __fmul_rn (fc, v[1])), __fmul_rn (fr, v[2]));
          memcpy (w.out + 4 * i, &y, 4);
        }
      }
      break;
    }
    case RK_KERNEL_LEVELS: {
      const float fa = (float) w.a, fb = (float) w.b;
      const uint32_t n = w.len / 2, n8 = aligned ? n / 8 : 0;
#pragma unroll 4
      for (uint32_t i = i0; i < n8; i += stride) {
        uint4 v = ld_in (w, (const uint4 *) w.in + i);
        uint32_t *q = (uint32_t *) &v;
        for (int k = 0; k < 4; k++)
          q[k] = rk_levels_u16 (q[k] & 0xffffu, fa, fb) | (uint32_t) rk_levels_u16 (q[k] >> 16, fa, fb) << 16;
        ((uint4 *) w.out)[i] = v;
      }
      for (uint32_t i = n8 * 8 + i0; i < n; i += stride) {
        const uint16_t y = rk_levels_u16 ((uint32_t) ld_in (w, w.in + 2 * i)
            | (uint32_t) ld_in (w, w.in + 2 * i + 1) << 8, fa, fb);
        w.out[2 * i] = (uint8_t) y;
        w.out[2 * i + 1] = (uint8_t) (y >> 8);
      }
      break;
    }
#ifdef RK_USER_HANDLER
    case RK_KERNEL_USER:
      rk_user_process (w.in, w.out, w.len, w.p, i0, stride);
      break;
#endif
    case RK_KERNEL_ACCUMULATE: {
      const uint32_t n = w.len / 4;
      for (uint32_t i = i0; i < n; i += stride) {
        double s = __dadd_rn (__ldcg (w.sum + i), (double) ld_in (w, (const float *) w.in + i));
        w.sum[i] = s;
        ((float *) w.out)[i] = (float) __dmul_rn (s, w.inv);
      }
      break;
    }
    case WORK_WAVE_RENDER:
      wave_render_slice (w, i0, stride);
      break;
    case WORK_WAVE_IMPULSE:
      wave_impulse_slice (w, i0, stride);
      break;
    case WORK_WAVE_CLEAR:
      for (uint32_t i = i0; i < w.len; i += stride)
        __stcg ((float *) w.out + i, 0.0f);
      break;
    default:
      break;
  }
}

/* ---- the leader's state, in shared memory ---- */

struct __align__ (16) LeaderState {
  rk_record req[MAX_BATCH];
  rk_record ans[MAX_BATCH];
  uint4 stage[STAGE_BYTES / 16];   /* gathered payloads of a run of small records */
  uint32_t stage_at[MAX_BATCH];    /* record r + i's payload starts at 16-byte chunk stage_at[i] */
  uint64_t stage_mask;              /* bit i: record r + i's payload is in stage[] */
  uint32_t staged_chunks;           /* chunks of stage[] filled */
  uint32_t last_failed;             /* finish_run (): 1 + the run's last failed record, or 0 */
  uint64_t now;                     /* the clock, read once for the record (or run) being served */
  uint32_t small[MAX_BATCH / 32];   /* bit i: record i is small (small_record ()) */
  uint32_t in_arena[MAX_BATCH / 32]; /* bit i: record i is small, its payload in the arena */
  double params[RK_MAX_PARAMS];
  uint64_t hlc;
  uint64_t in_tail, out_head; /* the H2K tail and K2H head, from warp 0 to the block at each batch */
  uint32_t nreq;
  uint32_t loaded; /* warp 0 has read the batch's one record into req[0] already */
  /* where the payload of the next record that comes alone is likely to be: where the last one's was
   * (the host's arena starts again at its beginning when it is empty, as it is between records sent
   * one at a time). guess_len: bytes read there ahead, a multiple of 16 up to PREFETCH_BYTES; 0: none */
  uint64_t guess_off;
  uint32_t guess_len;
  uint32_t stop;
  uint32_t status;
  uint32_t paused;
  Work work;
  uint32_t use_grid;
  uint32_t node;
  /* the actor's counters, kept here and only ever stored to the control block (a load from mapped
   * memory is a PCIe round trip) */
  uint64_t records_in, records_out, errors, beats, batches;
  uint64_t last_beat;
  /* K2K: the inbox the actor reads (consumer side: its own, or the one RK_CMD_INBOX named) and the
   * route LINK installed (producer side); indices and positions cached here, as their single writer.
   * `sys`: the other side is another device, or the ring is in host memory (RK_ROUTE_F_SYSTEM), so
   * accesses are ordered at system scope, not device scope. */
  rk_ring *inbox;
  uint8_t *inbox_arena;
  uint64_t inbox_size, inbox_tail;
  uint32_t inbox_mask, inbox_sys;
  rk_ring *route;
  uint8_t *route_arena;
  uint64_t route_size, route_pos, route_head;
  uint32_t route_entries, route_mask, route_sys;
  /* the low-latency mirrors (core/rk_ll.h) of the inbox and of the route's inbox, or 0 */
  uint64_t inbox_ll, route_ll;
  /* the linked record being served: take the inbox record / put one on the route when done; fast:
   * the inbox record came from the mirror */
  uint32_t link_take, link_put, link_fast;
  uint64_t link_off, link_seq;
  uint64_t routed_in, routed_out, skipped_in, fast_in, h2k_fast;
  /* the wave: steps of the frame being served, and which field holds u */
  uint32_t wave_steps, wave_cur;
  /* where the payload of the next linked record is likely to be in the inbox: where the last one's
   * was (the producer starts again at the inbox arena's beginning whenever it is empty, as it is
   * between records that go down a chain one at a time); bytes read there ahead, or 0 */
  uint64_t link_guess_off;
  uint32_t link_guess_len;
  /* the H2K mirror: polled (with the head) while records come one at a time and small enough to be
   * mirrored; lines of payload read with the record: as many as the last record's payload took */
  uint32_t h2k_ll_use, h2k_ll_guess;
  /* the K2H mirror: L.ans[0], the answer to a record served alone, goes into it too */
  uint32_t ans_ll;
  /* The first poll of the H2K ring after an answer served alone waits until poll_delay ns after
   * the answer was published (answered_ns), so that it reaches host memory just after the host has
   * reacted to the answer with its next record, rather than just before (after_answer: that poll
   * has not been made yet). */
  uint32_t after_answer, poll_delay;
  uint64_t answered_ns;
};

__device__ void
set_state (rk_control *ctl, uint32_t state)
{
  st_relaxed_sys64 (&ctl->state_ns[state], globaltimer ());
  __threadfence_system ();
  st_relaxed_sys32 (&ctl->state, state);
}

__device__ __forceinline__ bool
region_ok (uint64_t off, uint64_t len, uint64_t size)
{
  return off <= size && len <= size - off;
}

/* ---- K2K, thread 0 (mirrors core/rk_ref_actor.c) ---- */

__device__ __forceinline__ bool
cancelled (const rk_cuda_args &a, const rk_record &req)
{
  return ld_acquire_sys (&a.ctl->cancel) > req.seq; /* mapped: a PCIe read, so only now and then */
}

/* While a linked record waits: keep the heartbeat going (the host takes a silent actor for a stuck
 * one), and look at the host's cancel word. */
__device__ __forceinline__ bool
link_wait_tick (const rk_cuda_args &a, LeaderState &L, const rk_record &req, uint32_t polls)
{
  if ((polls & 255) != 255)
    return false;
  uint64_t now = globaltimer ();
  if (now - L.last_beat > BEAT_NS) {
    L.last_beat = now;
    st_relaxed_sys64 (&a.ctl->heartbeat, ++L.beats);
  }
  return cancelled (a, req);
}

__device__ __forceinline__ void
load_record (rk_record &r, const rk_record *slot, uint32_t sys)
{
  for (int k = 0; k < 4; k++) /* written by another kernel: from L2, or from wherever it lives */
    ((uint4 *) &r)[k] = sys ? ld_relaxed_sys_v4 ((const uint4 *) slot + k) : __ldcg ((const uint4 *) slot + k);
}

/* A ring index that the other side of a link writes. */
__device__ __forceinline__ uint64_t
link_acquire (const uint64_t *p, uint32_t sys)
{
  return sys ? ld_acquire_sys (p) : ld_acquire_gpu (p);
}

/* FROM_INBOX: wait for link record `want` at the inbox's front, skipping older ones nobody asked for. */
__device__ uint32_t
inbox_take (const rk_cuda_args &a, LeaderState &L, const rk_record &req, uint64_t want, rk_record &lr)
{
  rk_ring *in = L.inbox;
  for (uint32_t polls = 0;; polls++) {
    /* pairs with the producer's release; a distance, since the tail may pass a head not yet stored
     * (the record came from the mirror, rk_ll.h) */
    if ((int64_t) (link_acquire (&in->head, L.inbox_sys) - L.inbox_tail) > 0) {
      load_record (lr, &rk_ring_slots (in)[L.inbox_tail & L.inbox_mask], L.inbox_sys);
      if (lr.seq == want)
        return RK_STATUS_OK;
      if (lr.seq > want) /* dropped upstream: what follows belongs to later records */
        return RK_STATUS_CANCELLED;
      if (L.inbox_sys)
        st_release_sys (&in->tail, ++L.inbox_tail);
      else
        st_release_gpu (&in->tail, ++L.inbox_tail);
      L.skipped_in++;
      continue;
    }
    if (link_wait_tick (a, L, req, polls))
      return RK_STATUS_CANCELLED;
  }
}

/* TO_ROUTE: wait for a slot and len bytes of room on the route. */
__device__ uint32_t
route_room (const rk_cuda_args &a, LeaderState &L, const rk_record &req, uint32_t len, uint64_t &off)
{
  if (rk_link_span (len) > L.route_size)
    return RK_STATUS_TOO_LARGE;
  for (uint32_t polls = 0;; polls++) {
    /* both loads in flight at once: one trip to L2, not two */
    const uint32_t closed = L.route_sys ? ld_relaxed_sys32 (&L.route->closed) : ld_relaxed_gpu32 (&L.route->closed);
    const uint64_t tail = link_acquire (&L.route->tail, L.route_sys); /* the consumer is done with those */
    if (closed)
      return RK_STATUS_CLOSED;
    const uint64_t used = L.route_head - tail;
    if (used < L.route_entries) {
      const bool empty = used == 0;
      const uint64_t *in_off = &rk_ring_slots (L.route)[tail & L.route_mask].u.desc.in_off;
      const uint64_t oldest = empty ? 0
          : L.route_sys ? ld_relaxed_sys64 (in_off) : __ldcg ((const unsigned long long *) in_off);
      if (rk_link_place (L.route_pos, oldest, empty, L.route_size, len, &off))
        return RK_STATUS_OK;
    }
    if (link_wait_tick (a, L, req, polls))
      return RK_STATUS_CANCELLED;
  }
}

/* TO_ROUTE: room for len bytes on the route, and the link record planned; returns where the output
 * goes (NULL without a route). A record that failed before still goes down the route, as an error
 * record, so it asks for the room of an empty payload; L.status keeps the first failure. */
__device__ uint8_t *
route_claim (const rk_cuda_args &a, LeaderState &L, const rk_record &req, uint32_t len)
{
  if (!L.route) {
    if (L.status == RK_STATUS_OK)
      L.status = RK_STATUS_NO_ROUTE;
    return nullptr;
  }
  uint64_t off = 0;
  uint32_t rs = route_room (a, L, req, L.status == RK_STATUS_OK ? len : 0, off);
  if (rs == RK_STATUS_TOO_LARGE) { /* it still goes on, as an error record, if there is room for one */
    const uint32_t r0 = route_room (a, L, req, 0, off);
    rs = r0 == RK_STATUS_OK ? RK_STATUS_TOO_LARGE : r0;
  }
  L.link_put = rs == RK_STATUS_OK || rs == RK_STATUS_TOO_LARGE;
  L.link_off = off;
  L.link_seq = req.u.desc.out_off;
  if (L.status == RK_STATUS_OK)
    L.status = rs;
  return L.route_arena + off;
}

/* After the block (and the grid) finished with a linked record: put the result on the route, and hand
 * the inbox record back. One fence for both (a fence costs some 0.5 us here, and a system-scope store
 * in flight before it more): it orders the block's payload writes (before the barrier) and the link
 * record before the new head, and the block's reads of the inbox before the new tail. It is a
 * system-scope fence where either side is another device or host memory. The counters in mapped
 * memory are stored after it. */
__device__ __forceinline__ void
link_record (const LeaderState &L, uint32_t status, uint32_t len, uint64_t hlc, rk_record &lr)
{
  memset (&lr, 0, sizeof lr);
  lr.type = RK_CMD_PROCESS;
  lr.seq = L.link_seq;
  lr.hlc = hlc;
  lr.node = L.node;
  lr.status = status;
  lr.len = status == RK_STATUS_OK ? len : 0;
  lr.flags = status == RK_STATUS_OK ? 0 : RK_REC_F_ERROR;
  lr.u.desc.in_off = L.link_off;
}

__device__ void
link_finish (const rk_cuda_args &a, LeaderState &L, uint32_t status, uint32_t len, uint64_t hlc)
{
  if (L.link_put) {
    rk_record lr;
    link_record (L, status, len, hlc, lr);
    rk_record *slot = &rk_ring_slots (L.route)[L.route_head & L.route_mask];
    for (int k = 0; k < 4; k++)
      __stcg ((uint4 *) slot + k, ((const uint4 *) &lr)[k]);
    L.route_pos = L.link_off + rk_link_span (lr.len);
  }
  const uint32_t put_sys = L.link_put && L.route_sys, take_sys = L.link_take && L.inbox_sys;
  if (put_sys || take_sys)
    __threadfence_system ();
  else
    __threadfence ();
  if (L.link_put) { /* pairs with the consumer's load-acquire */
    if (put_sys)
      st_relaxed_sys64 (&L.route->head, ++L.route_head);
    else
      st_relaxed_gpu (&L.route->head, ++L.route_head);
  }
  if (L.link_take) { /* pairs with the producer's load-acquire */
    if (take_sys)
      st_relaxed_sys64 (&L.inbox->tail, ++L.inbox_tail);
    else
      st_relaxed_gpu (&L.inbox->tail, ++L.inbox_tail);
  }
  if (L.link_put)
    st_relaxed_sys64 (&a.ctl->routed_out, ++L.routed_out);
  if (L.link_take)
    st_relaxed_sys64 (&a.ctl->routed_in, ++L.routed_in);
  if (L.link_take && L.link_fast)
    st_relaxed_sys64 (&a.ctl->fast_in, ++L.fast_in);
  if (L.skipped_in)
    st_relaxed_sys64 (&a.ctl->skipped_in, L.skipped_in);
  L.link_take = L.link_put = L.link_fast = 0;
}

/* The rk_route in a LINK or INBOX record's payload, and its ring, checked (core/rk_ref_actor.c's
 * read_route ()). Returns OK with rt (inbox_addr 0: none) and *ring, or INVALID. */
__device__ uint32_t
read_route (const rk_cuda_args &a, const rk_record &req, rk_route &rt, rk_ring *&ring)
{
  if ((req.flags & RK_REC_F_INLINE) || req.len != sizeof rt
      || !region_ok (req.u.desc.in_off, req.len, a.in_size) || (req.u.desc.in_off & 15))
    return RK_STATUS_INVALID;
  for (int k = 0; k < 4; k++)
    ((uint4 *) &rt)[k] = ld_relaxed_sys_v4 ((const uint4 *) (a.in_arena + req.u.desc.in_off) + k);
  ring = nullptr;
  if (!rt.inbox_addr)
    return RK_STATUS_OK;
  const bool ll_bad = rt.ll_addr && ((rt.flags & RK_ROUTE_F_SYSTEM) || (rt.ll_addr & 15));
  if ((rt.flags & ~(uint32_t) RK_ROUTE_F_SYSTEM) || !rt.arena_addr || !rt.arena_size || ll_bad
      || rt.arena_size % RK_LINK_ALIGN || (rt.inbox_addr & (RK_LINE_SIZE - 1)))
    return RK_STATUS_INVALID;
  ring = (rk_ring *) (uintptr_t) rt.inbox_addr; /* the element hands over a real inbox */
  /* line 2 of the ring, written once before anyone used it */
  const uint4 geo = ld_relaxed_sys_v4 (&ring->entries);
  const uint32_t entries = geo.x, mask = geo.y;
  if (geo.w != RK_ABI_VERSION || geo.z != RK_RECORD_SIZE || entries == 0 || mask != entries - 1)
    return RK_STATUS_INVALID;
  return RK_STATUS_OK;
}

/* RK_CMD_LINK: install the route in the payload (or remove it). */
__device__ uint32_t
install_route (const rk_cuda_args &a, LeaderState &L, const rk_record &req)
{
  rk_route rt;
  rk_ring *ring;
  const uint32_t st = read_route (a, req, rt, ring);
  if (st != RK_STATUS_OK)
    return st;
  if (!ring) {
    L.route = nullptr;
    L.route_ll = 0;
    return RK_STATUS_OK;
  }
  const uint32_t mask = ld_relaxed_sys32 (&ring->mask), sys = (rt.flags & RK_ROUTE_F_SYSTEM) != 0;
  L.route = ring;
  L.route_arena = (uint8_t *) (uintptr_t) rt.arena_addr;
  L.route_size = rt.arena_size;
  L.route_entries = mask + 1;
  L.route_mask = mask;
  L.route_sys = sys;
  L.route_ll = rt.ll_addr;
  /* this actor is the inbox's only producer from now on: go on after what the last one wrote */
  L.route_head = ld_relaxed_sys64 (&ring->head);
  const uint64_t tail = link_acquire (&ring->tail, sys);
  L.route_pos = 0;
  if (L.route_head != tail) {
    rk_record newest;
    load_record (newest, &rk_ring_slots (ring)[(L.route_head - 1) & mask], sys);
    L.route_pos = newest.u.desc.in_off + rk_link_span (newest.len);
  }
  return RK_STATUS_OK;
}

/* RK_CMD_INBOX: read linked records from the inbox in the payload from now on (the actor's own, or one
 * in host memory), at the scope it names. Every linked record before this one has been served. */
__device__ uint32_t
switch_inbox (const rk_cuda_args &a, LeaderState &L, const rk_record &req)
{
  rk_route rt;
  rk_ring *ring;
  if (!a.inbox)
    return RK_STATUS_UNSUPPORTED; /* an actor started without links */
  const uint32_t st = read_route (a, req, rt, ring);
  if (st != RK_STATUS_OK)
    return st;
  if (!ring)
    return RK_STATUS_INVALID;
  L.inbox = ring;
  L.inbox_arena = (uint8_t *) (uintptr_t) rt.arena_addr;
  L.inbox_size = rt.arena_size;
  L.inbox_mask = ld_relaxed_sys32 (&ring->mask);
  L.inbox_sys = (rt.flags & RK_ROUTE_F_SYSTEM) != 0;
  L.inbox_ll = rt.ll_addr;
  L.inbox_tail = ld_relaxed_sys64 (&ring->tail); /* its only writer: this actor, before or now */
  L.link_guess_len = 0; /* nothing read ahead in another arena */
  return RK_STATUS_OK;
}

/* Copy n bytes block-wide (mapped or device memory, any alignment). */
__device__ void
block_copy (uint8_t *dst, const uint8_t *src, uint64_t n)
{
  for (uint64_t i = threadIdx.x; i < n; i += blockDim.x)
    dst[i] = src[i];
}

/* Every block of the grid waits here for the others (the grid is cooperative: all resident). What each
 * block wrote before it is visible to every block after it. All threads of every block call it. */
__device__ void
grid_barrier (rk_cuda_shared *sh, uint32_t nblocks)
{
  __syncthreads ();
  if (threadIdx.x == 0) {
    const uint32_t gen = ld_acquire_gpu32 (&sh->bar_gen);
    __threadfence (); /* the block's writes (ordered by the barrier above) before the arrival */
    if (atomicAdd (&sh->bar_count, 1u) == nblocks - 1) {
      sh->bar_count = 0;
      st_release_gpu32 (&sh->bar_gen, gen + 1);
    } else {
      while (ld_acquire_gpu32 (&sh->bar_gen) == gen)
        ;
    }
  }
  __syncthreads ();
}

/* The steps of a frame, by every block taking part (block `rank` of `nblocks`): a step, a barrier, the
 * fields' roles swapped. w.in = u and w.out = u_prev at the start; w.len steps. */
__device__ void
wave_steps (const rk_cuda_shared *sh_c, const Work &w, uint32_t rank, uint32_t nblocks)
{
  rk_cuda_shared *sh = (rk_cuda_shared *) sh_c;
  Work s = w;
  for (uint32_t k = 0; k < w.len; k++) {
    wave_step_rows (s, rank, nblocks);
    if (nblocks > 1)
      grid_barrier (sh, nblocks);
    else
      __syncthreads ();
    const uint8_t *t = s.in;
    s.in = s.out;
    s.out = (uint8_t *) t;
  }
}

/* ---- the spectrum, as core/rk_spectrum.c: FFTs a block each, sums a thread per channel and band ---- */

#define SPEC_AREA(s, off, type) ((type *) (void *) ((uint8_t *) (s) + (s)->off))

/* Dynamic shared memory, sized at launch for a spectrum actor's FFT (none for other actors). */
extern __shared__ rk_cf spec_smem[];

/* FFT j of the command at cmd (device memory), channel c, by the whole block: its terms (dB and phase,
 * as the command asks) into values slot j - j0. sm: RK_CUDA_SPEC_SMEM (M) bytes of shared memory. */
__device__ void
spec_fft (rk_spectrum_state *s, const uint8_t *cmd, const uint32_t *fft_idx, uint32_t j, uint32_t j0,
    uint32_t c, rk_cf *sm)
{
  const rk_spectrum_cmd *h = (const rk_spectrum_cmd *) cmd;
  const rk_spectrum_event *ev = (const rk_spectrum_event *) (cmd + sizeof *h);
  const uint8_t *data = cmd + h->data_off;
  const uint32_t nfft = s->nfft, M = s->half, B = s->bands, C = s->channels, pos = s->pos;
  const uint32_t flags = h->flags;
  const int mix = (flags & RK_SPECTRUM_F_MIX) != 0;
  const int64_t first = (int64_t) ev[fft_idx[j]].at - nfft;
  const float *ring = SPEC_AREA (s, ring_off, const float) + (size_t) c * nfft;
  const double *win = SPEC_AREA (s, window_off, const double);
  const rk_cf *tw = SPEC_AREA (s, twiddle_off, const rk_cf);
  rk_cf *x = sm, *y = sm + M;

  for (uint32_t n = threadIdx.x; n < M; n += blockDim.x) {
    float v[2];
    for (uint32_t q = 0; q < 2; q++) {
      const int64_t f = first + 2 * n + q;
      const float in = f < 0 ? ring[(pos + nfft + f) % nfft]
                             : rk_spectrum_input (data, h->format, h->channels, mix, (uint32_t) f, c);
      v[q] = rk_spectrum_windowed (in, win[2 * n + q]);
    }
    x[n].re = v[0];
    x[n].im = v[1];
  }
  __syncthreads ();
  uint32_t Ns = 1;
  for (uint32_t f = 0; f < s->n_factors; f++) {
    const uint32_t R = s->factors[f];
    for (uint32_t o = threadIdx.x; o < M; o += blockDim.x)
      y[o] = rk_fft_stage_out (x, tw, M, R, Ns, o);
    Ns *= R;
    __syncthreads ();
    rk_cf *t = x;
    x = y;
    y = t;
  }
  double *val = SPEC_AREA (s, values_off, double) + ((size_t) (j - j0) * C + c) * 2 * B;
  for (uint32_t k = threadIdx.x; k < B; k += blockDim.x) {
    const rk_cf X = rk_fft_real_bin (x, tw, M, k);
    if (flags & RK_SPECTRUM_F_MAGNITUDE) {
      double db = 10.0 * log10 (rk_spectrum_power (X, nfft));
      val[k] = db < h->threshold ? (double) h->threshold : db;
    }
    if (flags & RK_SPECTRUM_F_PHASE)
      val[B + k] = atan2 ((double) X.im, (double) X.re);
  }
  __syncthreads (); /* sm is the next FFT's */
}

/* The sums of events [e0, e1) for channel-and-band items [i0, C * B) with a stride: each adds the
 * batch's terms in event order and answers an interval's averages where it ends. nf and ends (the
 * same for every item) come in at e0 and go out at e1. */
__device__ void
spec_sums (rk_spectrum_state *s, const uint8_t *cmd, const rk_cuda_spec_job &j, uint8_t *out,
    uint32_t i0, uint32_t stride, uint32_t &nf, uint32_t &ends)
{
  const rk_spectrum_cmd *h = (const rk_spectrum_cmd *) cmd;
  const rk_spectrum_event *ev = (const rk_spectrum_event *) (cmd + sizeof *h);
  const uint32_t B = s->bands, C = s->channels, block = B * C, flags = h->flags;
  const uint32_t per = ((flags & RK_SPECTRUM_F_MAGNITUDE) != 0) + ((flags & RK_SPECTRUM_F_PHASE) != 0);
  float *mag = SPEC_AREA (s, mag_off, float), *ph = SPEC_AREA (s, phase_off, float);
  const double *values = SPEC_AREA (s, values_off, const double);
  uint32_t nf_out = nf, ends_out = ends;
  for (uint32_t i = i0; i < block; i += stride) {
    const uint32_t c = i / B, k = i % B;
    float am = j.restart ? 0.0f : mag[i], ap = j.restart ? 0.0f : ph[i];
    uint32_t n = nf, e_n = ends, fj = j.j0;
    for (uint32_t e = j.e0; e < j.e1; e++) {
      const uint32_t kind = ev[e].kind;
      if (kind & RK_SPECTRUM_EV_FFT) {
        const double *v = values + ((size_t) (fj - j.j0) * C + c) * 2 * B;
        if (flags & RK_SPECTRUM_F_MAGNITUDE)
          am = rk_spectrum_sum (am, v[k]);
        if (flags & RK_SPECTRUM_F_PHASE)
          ap = rk_spectrum_sum (ap, v[B + k]);
        fj++;
        n++;
      }
      if (kind & RK_SPECTRUM_EV_END) {
        float *o = (float *) (void *) out + (size_t) e_n * per * block;
        if (flags & RK_SPECTRUM_F_MAGNITUDE) {
          o[i] = rk_fdiv (am, (float) n);
          o += block;
        }
        if (flags & RK_SPECTRUM_F_PHASE)
          o[i] = rk_fdiv (ap, (float) n);
        am = ap = 0.0f;
        n = 0;
        e_n++;
      }
    }
    mag[i] = am;
    ph[i] = ap;
    nf_out = n;
    ends_out = e_n;
  }
  nf = nf_out;
  ends = ends_out;
}

/* The window keeps the command's last nfft frames (items [i0, C * kept) with a stride). */
__device__ void
spec_ring (rk_spectrum_state *s, const uint8_t *cmd, uint32_t i0, uint32_t stride)
{
  const rk_spectrum_cmd *h = (const rk_spectrum_cmd *) cmd;
  const uint8_t *data = cmd + h->data_off;
  const uint32_t nfft = s->nfft, kept = h->frames < nfft ? h->frames : nfft, first = h->frames - kept;
  const int mix = (h->flags & RK_SPECTRUM_F_MIX) != 0;
  float *ring = SPEC_AREA (s, ring_off, float);
  for (uint32_t i = i0; i < s->channels * kept; i += stride) {
    const uint32_t c = i / kept, v = first + i % kept;
    ring[(size_t) c * nfft + ((uint64_t) s->pos + v) % nfft] =
        rk_spectrum_input (data, h->format, h->channels, mix, v, c);
  }
}

/* Block-wide: check the command (len bytes at cmd, device memory) against the actor and room for cap
 * bytes of answer, and list the event of each FFT. The verdict goes to sh for every block. */
__device__ void
spec_index (rk_spectrum_state *s, const uint8_t *cmd, uint32_t len, uint32_t cap, uint32_t *fft_idx,
    rk_cuda_shared *sh)
{
  __shared__ uint32_t st, n_ev, bad, ends, warp_sum[RK_CUDA_BLOCK / 32];
  const uint32_t tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const rk_spectrum_cmd *h = (const rk_spectrum_cmd *) cmd;
  const rk_spectrum_event *ev = (const rk_spectrum_event *) (cmd + sizeof *h);
  if (tid == 0) {
    uint32_t unused = 0;
    st = len < sizeof *h ? RK_STATUS_INVALID
                         : rk_spectrum_check (h, nullptr, len, s->bands, s->channels, ~0u, &unused);
    n_ev = st == RK_STATUS_OK ? h->n_events : 0;
    bad = ends = 0;
  }
  __syncthreads ();
  const uint32_t n = n_ev, each = (n + blockDim.x - 1) / blockDim.x;
  const uint32_t lo = min (tid * each, n), hi = min (lo + each, n);
  uint32_t cnt = 0, e_cnt = 0, b = 0;
  for (uint32_t e = lo; e < hi; e++) {
    const uint32_t kind = ev[e].kind, at = ev[e].at;
    b |= kind == 0 || (kind & ~(uint32_t) (RK_SPECTRUM_EV_FFT | RK_SPECTRUM_EV_END)) || at > h->frames
        || (e > 0 && at < ev[e - 1].at);
    cnt += (kind & RK_SPECTRUM_EV_FFT) != 0;
    e_cnt += (kind & RK_SPECTRUM_EV_END) != 0;
  }
  if (b)
    atomicOr (&bad, 1u);
  if (e_cnt)
    atomicAdd (&ends, e_cnt);
  uint32_t incl = cnt;
  for (uint32_t o = 1; o < 32; o <<= 1) {
    const uint32_t t = __shfl_up_sync (0xffffffffu, incl, o);
    if (lane >= o)
      incl += t;
  }
  if (lane == 31)
    warp_sum[warp] = incl;
  __syncthreads ();
  if (tid == 0) {
    uint32_t acc = 0;
    for (uint32_t w = 0; w < blockDim.x / 32; w++) {
      const uint32_t t = warp_sum[w];
      warp_sum[w] = acc;
      acc += t;
    }
    sh->spec_ffts = acc;
  }
  __syncthreads ();
  uint32_t at = warp_sum[warp] + incl - cnt;
  for (uint32_t e = lo; e < hi; e++)
    if (ev[e].kind & RK_SPECTRUM_EV_FFT)
      fft_idx[at++] = e;
  __syncthreads ();
  if (tid == 0) {
    uint32_t status = st;
    if (status == RK_STATUS_OK && bad)
      status = RK_STATUS_INVALID;
    const uint32_t per = ((h->flags & RK_SPECTRUM_F_MAGNITUDE) != 0) + ((h->flags & RK_SPECTRUM_F_PHASE) != 0);
    const uint64_t out_len = (uint64_t) ends * per * s->channels * s->bands * sizeof (float);
    if (status == RK_STATUS_OK && out_len > cap)
      status = RK_STATUS_TOO_LARGE;
    sh->spec_status = status;
    sh->spec_len = status == RK_STATUS_OK ? (uint32_t) out_len : 0;
    sh->spec_events = n;
  }
}

__device__ __forceinline__ void
spec_barrier (rk_cuda_shared *sh, uint32_t nblocks)
{
  if (nblocks > 1)
    grid_barrier (sh, nblocks);
  else
    __syncthreads ();
}

/* A spectrum command, by every block taking part (block `rank` of `nblocks`; rank 0 is the leader's):
 * the command into device memory, block 0's check and index, then batches of FFTs and sums, then the
 * window. w.in: the command (w.len bytes, mapped or staged), w.out: the answer, w.a: its room. */
__device__ void
spectrum_work (const rk_cuda_args &a, const Work &w, uint32_t rank, uint32_t nblocks)
{
  rk_cuda_shared *sh = a.sh;
  rk_spectrum_state *s = (rk_spectrum_state *) a.state;
  uint8_t *cmd = SPEC_AREA (s, command_off, uint8_t);
  uint32_t *fft_idx = SPEC_AREA (s, index_off, uint32_t);
  const uint32_t tid = threadIdx.x, g0 = rank * blockDim.x + tid, gs = nblocks * blockDim.x;

  /* 16 bytes a thread while both sides allow it (arena offsets are aligned), then the tail */
  const uint32_t n16 = ((uintptr_t) w.in & 15) ? 0 : w.len / 16;
  for (uint32_t i = g0; i < n16; i += gs)
    ((uint4 *) (void *) cmd)[i] = w.in_mapped ? __ldcv ((const uint4 *) (const void *) w.in + i)
                                              : ((const uint4 *) (const void *) w.in)[i];
  for (uint32_t i = n16 * 16 + g0; i < w.len; i += gs)
    cmd[i] = ld_in (w, w.in + i);
  spec_barrier (sh, nblocks);
  if (rank == 0)
    spec_index (s, cmd, w.len, (uint32_t) w.a, fft_idx, sh);
  spec_barrier (sh, nblocks);
  if (ld_relaxed_gpu32 (&sh->spec_status) != RK_STATUS_OK)
    return;

  const rk_spectrum_cmd *h = (const rk_spectrum_cmd *) cmd;
  const uint32_t n_fft = ld_relaxed_gpu32 (&sh->spec_ffts), n_ev = ld_relaxed_gpu32 (&sh->spec_events);
  const uint32_t C = s->channels;
  const bool ffts = h->flags & (RK_SPECTRUM_F_MAGNITUDE | RK_SPECTRUM_F_PHASE);
  rk_cuda_spec_job j = {};
  j.nf = (h->flags & RK_SPECTRUM_F_RESTART) ? 0 : s->num_fft;
  for (j.j0 = 0;; j.j0 = j.j1) {
    j.j1 = min (j.j0 + s->batch, n_fft);
    for (uint32_t t = rank; ffts && t < (j.j1 - j.j0) * C; t += nblocks)
      spec_fft (s, cmd, fft_idx, j.j0 + t / C, j.j0, t % C, spec_smem);
    spec_barrier (sh, nblocks);
    j.e0 = j.j0 == 0 ? 0 : fft_idx[j.j0];
    j.e1 = j.j1 == n_fft ? n_ev : fft_idx[j.j1];
    j.restart = j.j0 == 0 && (h->flags & RK_SPECTRUM_F_RESTART);
    spec_sums (s, cmd, j, w.out, g0, gs, j.nf, j.ends);
    if (j.j1 >= n_fft)
      break;
    spec_barrier (sh, nblocks); /* the values area is the next batch's */
  }
  spec_ring (s, cmd, g0, gs);
  if (g0 == 0)
    sh->spec_nf = j.nf; /* item 0 is always this thread's */
}

/* Run one work item block-wide, or over the whole grid: the leader publishes it in device memory, its
 * own block takes the first slice, and thread 0 waits until every worker block is done. Every thread
 * of the leader block calls it; it ends with the block in step. */
__device__ void
run_item (const rk_cuda_args &a, const Work &w, bool use_grid, int grid)
{
  const uint32_t tid = threadIdx.x;
  if (use_grid) {
    if (tid == 0) {
      rk_cuda_shared *sh = a.sh;
      sh->op = w.op;
      sh->in = (uint64_t) (uintptr_t) w.in;
      sh->out = (uint64_t) (uintptr_t) w.out;
      sh->n = w.len;
      sh->a = w.a;
      sh->b = w.b;
      sh->inv = w.inv;
      for (uint32_t k = 0; k < RK_MAX_PARAMS; k++)
        sh->p[k] = w.p[k];
      sh->imp = w.imp;
      __threadfence (); /* the item before its epoch: pairs with the workers' acquire */
      atomicAdd ((unsigned long long *) &sh->epoch, 1ull);
    }
    if (w.op == WORK_WAVE_STEPS)
      wave_steps (a.sh, w, 0, grid);
    else if (w.op == WORK_SPECTRUM)
      spectrum_work (a, w, 0, grid);
    else
      run_slice (w, tid, grid * blockDim.x);
  } else if (w.op == WORK_WAVE_STEPS) {
    wave_steps (a.sh, w, 0, 1);
  } else if (w.op == WORK_SPECTRUM) {
    spectrum_work (a, w, 0, 1);
  } else {
    run_slice (w, tid, blockDim.x);
  }
  __syncthreads ();
  if (use_grid) { /* uniform over the block */
    if (tid == 0) {
      uint64_t want = (uint64_t) (grid - 1) * ld_acquire_gpu (&a.sh->epoch);
      while (ld_acquire_gpu (&a.sh->done) < want)
        ;
    }
    __syncthreads ();
  }
}

/* ---- the wave's commands (thread 0 plans, the block or the grid runs) ---- */

__device__ __forceinline__ uint32_t
wave_cells (const double *p)
{
  return (uint32_t) p[RK_WAVE_P_WIDTH] * (uint32_t) p[RK_WAVE_P_HEIGHT] * (uint32_t) p[RK_WAVE_P_DEPTH];
}

/* Thread 0: check a wave command (its bytes at `in`, mapped or inline) and plan it in L.work. */
__device__ uint32_t
wave_plan (const rk_cuda_args &a, LeaderState &L, const rk_record &req, const uint8_t *in, bool mapped,
    uint8_t *out, uint32_t cap, rk_record &ans)
{
  uint8_t cmd[RK_INLINE_MAX];
  const uint32_t len = req.len;
  if (len > sizeof cmd)
    return RK_STATUS_INVALID;
  for (uint32_t i = 0; i < len; i++)
    cmd[i] = mapped ? __ldcv (in + i) : in[i];
  const uint32_t W = (uint32_t) L.params[RK_WAVE_P_WIDTH], H = (uint32_t) L.params[RK_WAVE_P_HEIGHT];
  const uint32_t D = (uint32_t) L.params[RK_WAVE_P_DEPTH];
  const uint64_t fb = rk_wave_field_bytes (W, H, D);
  rk_wave_state *s = (rk_wave_state *) a.state;
  uint8_t *f0 = (uint8_t *) a.state + RK_WAVE_FIELD_OFF;
  const uint32_t cur = s->cur;
  Work &w = L.work;
  w.p = L.params;
  w.in = f0 + cur * fb;
  w.out = f0 + (cur ^ 1) * fb;
  L.wave_cur = cur;
  ans.len = 0;
  const uint32_t op = rk_wave_command (cmd, len);
  if ((req.flags & RK_REC_F_TO_ROUTE) && op != RK_WAVE_FRAME)
    return RK_STATUS_INVALID; /* only a frame has something to pass on */
  switch (op) {
    case RK_WAVE_FRAME: {
      rk_wave_frame f;
      memcpy (&f, cmd, sizeof f);
      uint32_t out_len = 0, st = rk_wave_frame_check (&f, W, H, cap, &out_len);
      if (st != RK_STATUS_OK)
        return st;
      w.op = WORK_WAVE_FRAME;
      w.out = out;
      w.a = f.format;
      w.b = f.stride;
      L.wave_steps = f.steps;
      ans.len = out_len;
      return RK_STATUS_OK;
    }
    case RK_WAVE_IMPULSE: {
      memcpy (&w.imp, cmd, sizeof w.imp);
      uint32_t st = rk_wave_impulse_check (&w.imp);
      if (st == RK_STATUS_OK)
        w.op = WORK_WAVE_IMPULSE;
      return st;
    }
    case RK_WAVE_RESET:
      w.op = WORK_WAVE_CLEAR;
      w.out = f0;
      w.len = (uint32_t) (2 * fb / 4);
      s->cur = 0;
      s->steps = 0;
      return RK_STATUS_OK;
    default:
      return RK_STATUS_INVALID;
  }
}

/* The planned wave command, every thread of the leader block. */
__device__ void
wave_run (const rk_cuda_args &a, LeaderState &L, int grid)
{
  const uint32_t tid = threadIdx.x;
  Work w = L.work;
  const uint32_t cells = wave_cells (w.p);
  const bool g = grid > 1 && cells >= WAVE_GRID_CELLS;
  if (w.op != WORK_WAVE_FRAME) {
    run_item (a, w, g && w.op == WORK_WAVE_CLEAR, grid);
    return;
  }
  const uint32_t W = (uint32_t) w.p[RK_WAVE_P_WIDTH], H = (uint32_t) w.p[RK_WAVE_P_HEIGHT];
  const uint64_t fb = rk_wave_field_bytes (W, H, (uint32_t) w.p[RK_WAVE_P_DEPTH]);
  uint8_t *f0 = (uint8_t *) a.state + RK_WAVE_FIELD_OFF;
  uint32_t cur = L.wave_cur;
  /* the frame's steps in runs of at most 256, so that a long frame keeps the heartbeat going */
  for (uint32_t k = 0; k < L.wave_steps; k += 256) {
    Work step = w;
    step.op = WORK_WAVE_STEPS;
    step.in = f0 + cur * fb;
    step.out = f0 + (cur ^ 1) * fb;
    step.len = min (L.wave_steps - k, 256u);
    run_item (a, step, g, grid);
    cur ^= step.len & 1;
    if (tid == 0) {
      const uint64_t now = globaltimer ();
      if (now - L.last_beat > BEAT_NS) {
        L.last_beat = now;
        st_relaxed_sys64 (&a.ctl->heartbeat, ++L.beats);
      }
    }
  }
  if (tid == 0) {
    rk_wave_state *s = (rk_wave_state *) a.state;
    s->cur = cur;
    s->steps += L.wave_steps;
  }
  if (w.a != RK_WAVE_FMT_NONE) {
    Work r = w;
    r.op = WORK_WAVE_RENDER;
    r.in = f0 + cur * fb + (size_t) rk_wave_slice (w.p, (uint32_t) w.p[RK_WAVE_P_DEPTH]) * W * H * 4;
    run_item (a, r, g, grid);
  }
}

/* The work item of a PROCESS record for the actor's handler, and whether the grid runs it (an inline
 * record lives in the leader block's memory: grid 1). Thread 0. */
__device__ __forceinline__ void
plan_handler (const rk_cuda_args &a, LeaderState &L, rk_accumulate_state *acc, const uint8_t *in,
    uint32_t in_mapped, uint8_t *out, uint32_t len, int grid)
{
  L.work.op = a.kernel_id;
  L.work.in = in;
  L.work.in_mapped = in_mapped;
  L.work.out = out;
  L.work.len = len;
  L.work.a = L.params[0];
  L.work.b = L.params[1];
  L.work.p = L.params;
  L.work.sum = acc ? acc->sum : nullptr;
  L.use_grid = grid > 1 && len >= a.grid_threshold;
}

/* One record, block-wide: thread 0 decides, the block (or, for a large payload, the grid) does the
 * data-parallel part, thread 0 writes the answer into `ans` (in shared memory). Mirrors
 * rk_ref_actor_serve (). */
__device__ void
serve (const rk_cuda_args &a, LeaderState &L, const rk_record &req, rk_record &ans, int grid)
{
  const uint32_t tid = threadIdx.x;
  rk_accumulate_state *acc = (rk_accumulate_state *) a.state;

  if (tid == 0) {
    /* one reading of the clock for the record (each costs about as much as the rest of a small
     * record's bookkeeping): the HLC's wall part, and the answer's time */
    L.now = globaltimer ();
    const uint64_t wall_ms = L.now / 1000000ull;
    L.hlc = req.hlc ? rk_hlc_next_recv (L.hlc, req.hlc, wall_ms) : rk_hlc_next_send (L.hlc, wall_ms);
    memset (&ans, 0, sizeof ans);
    ans.type = req.type;
    ans.seq = req.seq;
    ans.node = L.node;
    if (!(req.flags & RK_REC_F_INLINE)) {
      ans.u.desc.out_off = req.u.desc.out_off;
      ans.u.desc.out_cap = req.u.desc.out_cap;
    }
    L.status = RK_STATUS_OK;
    L.work.op = 0;
    L.use_grid = 0;

    switch (req.type) {
      case RK_CMD_PROCESS: {
        const bool inl = req.flags & RK_REC_F_INLINE;
        if (a.kernel_id == RK_KERNEL_WAVE) {
          /* a frame goes to the output arena, or (TO_ROUTE) straight into the downstream inbox, with
           * room for out_cap bytes there */
          const bool to = req.flags & RK_REC_F_TO_ROUTE;
          uint8_t *out = inl ? ans.u.bytes : a.out_arena + req.u.desc.out_off;
          if (inl)
            ans.flags |= RK_REC_F_INLINE;
          if (req.flags & RK_REC_F_FROM_INBOX)
            L.status = RK_STATUS_UNSUPPORTED;
          else if (!inl && (!region_ok (req.u.desc.in_off, req.len, a.in_size)
                  || (!to && !region_ok (req.u.desc.out_off, req.u.desc.out_cap, a.out_size))))
            L.status = RK_STATUS_INVALID;
          else if (to) {
            ans.flags |= RK_REC_F_TO_ROUTE;
            if (uint8_t *r = route_claim (a, L, req, req.u.desc.out_cap))
              out = r;
          }
          if (L.status == RK_STATUS_OK)
            L.status = wave_plan (a, L, req, inl ? req.u.bytes : a.in_arena + req.u.desc.in_off, !inl,
                out, inl ? RK_INLINE_MAX : req.u.desc.out_cap, ans);
          break;
        }
        if (a.kernel_id == RK_KERNEL_SPECTRUM) {
          /* checked by the blocks that run it, once it is in device memory (spectrum_work ()) */
          if (inl)
            ans.flags |= RK_REC_F_INLINE;
          if (req.flags & (RK_REC_F_FROM_INBOX | RK_REC_F_TO_ROUTE)) {
            L.status = RK_STATUS_UNSUPPORTED;
          } else if (req.len > RK_SPECTRUM_MAX_COMMAND
              || (!inl && (!region_ok (req.u.desc.in_off, req.len, a.in_size)
                  || !region_ok (req.u.desc.out_off, req.u.desc.out_cap, a.out_size)))) {
            L.status = RK_STATUS_INVALID;
          } else {
            const uint8_t *in = inl ? req.u.bytes : a.in_arena + req.u.desc.in_off;
            if ((req.flags & RK_REC_F_STAGED) && a.dev_in) {
              while (ld_acquire_gpu (&a.sh->staged) < req.seq + 1)
                ;
              in = a.dev_in + req.u.desc.in_off;
            }
            L.work.op = WORK_SPECTRUM;
            L.work.p = L.params;
            L.work.in = in;
            L.work.in_mapped = !inl;
            L.work.out = inl ? ans.u.bytes : a.out_arena + req.u.desc.out_off;
            L.work.len = req.len;
            L.work.a = inl ? RK_INLINE_MAX : req.u.desc.out_cap;
            L.use_grid = !inl && grid > 1; /* an inline command lives in this block's memory */
          }
          break;
        }
        const bool from = req.flags & RK_REC_F_FROM_INBOX, to = req.flags & RK_REC_F_TO_ROUTE;
        uint32_t cap = inl ? RK_INLINE_MAX : req.u.desc.out_cap;
        uint32_t unit = a.unit, len = req.len;
        const uint8_t *in = inl ? req.u.bytes : a.in_arena + req.u.desc.in_off;
        uint8_t *out = inl ? ans.u.bytes : a.out_arena + req.u.desc.out_off;
        bool mapped = !inl;
        if (inl) {
          ans.flags |= RK_REC_F_INLINE;
          if (req.len > RK_INLINE_MAX || from || to) {
            L.status = RK_STATUS_INVALID;
            break;
          }
        } else if (from || to) {
          /* K2K: the input from the inbox or the arena, the output to the route or the arena; a failed
           * record still goes down the route, as an error record */
          if (to)
            ans.flags |= RK_REC_F_TO_ROUTE;
          /* Room on the route for the length the host announced, claimed while the data is still on
           * its way into the inbox (a claim reads the route's indices from L2, a trip off the
           * critical path then). Only a claim that succeeds is kept; any other case claims again
           * below, as if this had not been tried. */
          uint8_t *room = nullptr;
          if (from && to && L.route && L.inbox) {
            room = route_claim (a, L, req, req.len);
            if (L.status != RK_STATUS_OK) {
              room = nullptr;
              L.status = RK_STATUS_OK;
              L.link_put = 0;
            }
          }
          if (from) {
            rk_record lr;
            /* The usual case is made ready while the data is on its way: the link record comes with
             * the length the host announced, is no error, and its output has room (the claim above,
             * or the output region). Then what is left once it is in is where its payload is: a
             * lone thread's work costs some 20 cycles an instruction, and every one here would
             * lengthen each hop of a chain. Anything else goes the whole way below. */
            const bool ready = L.inbox && a.kernel_id != RK_KERNEL_ACCUMULATE && req.len % unit == 0
                && (to ? room != nullptr
                       : region_ok (req.u.desc.out_off, req.u.desc.out_cap, a.out_size)
                           && req.u.desc.out_cap >= req.len);
            if (ready) /* the input's place comes with the link record */
              plan_handler (a, L, acc, nullptr, 1, to ? room : out, req.len, grid);
            if (!L.inbox) {
              L.status = RK_STATUS_UNSUPPORTED;
            } else if ((L.status = inbox_take (a, L, req, req.u.desc.in_off, lr)) == RK_STATUS_OK) {
              L.link_take = 1;
              if (ready && !(lr.flags & RK_REC_F_ERROR) && lr.len == req.len
                  && region_ok (lr.u.desc.in_off, lr.len, L.inbox_size)) {
                L.hlc = rk_hlc_next_recv (L.hlc, lr.hlc, L.now / 1000000ull);
                L.work.in = L.inbox_arena + lr.u.desc.in_off;
                ans.len = req.len;
                break; /* all set */
              }
              if (lr.flags & RK_REC_F_ERROR)
                L.status = lr.status ? lr.status : RK_STATUS_FAULT; /* failed upstream: pass it on */
              else if (!region_ok (lr.u.desc.in_off, lr.len, L.inbox_size))
                L.status = RK_STATUS_INVALID;
              else
                L.hlc = rk_hlc_next_recv (L.hlc, lr.hlc, L.now / 1000000ull);
              in = L.inbox_arena + lr.u.desc.in_off;
              len = lr.len;
            }
          } else if (!region_ok (req.u.desc.in_off, req.len, a.in_size)) {
            L.status = RK_STATUS_INVALID;
          }
          if (L.status == RK_STATUS_OK && len % unit)
            L.status = RK_STATUS_INVALID;
          if (to) {
            if (uint8_t *r = room && L.status == RK_STATUS_OK && len == req.len ? room
                                                                              : route_claim (a, L, req, len)) {
              out = r;
              cap = len;
            }
          } else if (!region_ok (req.u.desc.out_off, req.u.desc.out_cap, a.out_size) && L.status == RK_STATUS_OK) {
            L.status = RK_STATUS_INVALID;
          }
          if (L.status != RK_STATUS_OK)
            break;
        } else if (!region_ok (req.u.desc.in_off, req.len, a.in_size)
            || !region_ok (req.u.desc.out_off, req.u.desc.out_cap, a.out_size)) {
          L.status = RK_STATUS_INVALID;
          break;
        }
        if (len % unit) {
          L.status = RK_STATUS_INVALID;
          break;
        }
        if (cap < len || (a.kernel_id == RK_KERNEL_ACCUMULATE
                && len / 4 > RK_ACCUMULATE_MAX_SAMPLES)) {
          L.status = RK_STATUS_TOO_LARGE;
          break;
        }
        if ((req.flags & RK_REC_F_STAGED) && a.dev_in && !from) {
          /* the copy engine brings this payload into device memory; its stream-ordered counter says
           * when (pairs with the copy of the counter that follows the payload's copy) */
          while (ld_acquire_gpu (&a.sh->staged) < req.seq + 1)
            ;
          in = a.dev_in + req.u.desc.in_off; /* reused memory: still read past the L1 */
        }
        /* mapped memory, and inbox memory that another kernel writes, are read past the L1 cache */
        plan_handler (a, L, acc, in, mapped || from, out, len, inl ? 1 : grid);
        if (a.kernel_id == RK_KERNEL_ACCUMULATE) {
          uint32_t n = len / 4;
          if (n != acc->samples) {
            acc->samples = n;
            acc->count = 0;
            L.work.op = WORK_ACCUMULATE_RESTART;
          }
          acc->count++;
          L.work.inv = 1.0 / (double) acc->count;
        }
        ans.len = len;
        break;
      }
      case RK_CMD_SET_PARAM: {
        uint32_t i = req.u.desc.aux;
        double v;
        memcpy (&v, &req.u.desc.arg, sizeof v);
        if (i >= a.n_params || ((a.fixed_params >> i) & 1) || isnan (v) || v < a.pmin[i] || v > a.pmax[i])
          L.status = RK_STATUS_INVALID;
        else
          L.params[i] = v;
        break;
      }
      case RK_CMD_PAUSE:
        L.paused = 1;
        set_state (a.ctl, RK_STATE_PAUSED);
        break;
      case RK_CMD_RESUME:
        L.paused = 0;
        set_state (a.ctl, RK_STATE_ACTIVE);
        break;
      case RK_CMD_DRAIN:
        break;
      case RK_CMD_SNAPSHOT: {
        uint64_t off = req.u.desc.out_off, cap = req.u.desc.out_cap;
        if (a.kernel_id == RK_KERNEL_WAVE || a.kernel_id == RK_KERNEL_SPECTRUM) {
          /* state of up to 1 GiB, not through the out arena */
          L.status = RK_STATUS_UNSUPPORTED;
          break;
        }
        uint64_t state_len = acc ? offsetof (rk_accumulate_state, sum) + (uint64_t) acc->samples * 8 : 0;
        if ((req.flags & RK_REC_F_INLINE) || !region_ok (off, cap, a.out_size)) {
          L.status = RK_STATUS_INVALID;
          break;
        }
        if (cap < sizeof (rk_checkpoint) + state_len) {
          L.status = RK_STATUS_TOO_LARGE;
          ans.u.desc.out_cap = (uint32_t) (sizeof (rk_checkpoint) + state_len); /* what it needs */
          break;
        }
        rk_checkpoint cp;
        memset (&cp, 0, sizeof cp);
        cp.magic = RK_CHECKPOINT_MAGIC;
        cp.version = RK_ABI_VERSION;
        cp.kernel_id = a.kernel_id;
        cp.n_params = a.n_params;
        cp.state_len = state_len;
        cp.hlc = L.hlc;
        memcpy (cp.params, L.params, sizeof cp.params);
        memcpy (a.out_arena + off, &cp, sizeof cp);
        ans.len = (uint32_t) (sizeof cp + state_len);
        L.work.op = WORK_SAVE;
        L.work.out = a.out_arena + off + sizeof cp;
        L.work.len = (uint32_t) state_len;
        break;
      }
      case RK_CMD_RESTORE: {
        rk_checkpoint cp;
        if (a.kernel_id == RK_KERNEL_WAVE || a.kernel_id == RK_KERNEL_SPECTRUM) {
          L.status = RK_STATUS_UNSUPPORTED;
          break;
        }
        if ((req.flags & RK_REC_F_INLINE) || !region_ok (req.u.desc.in_off, req.len, a.in_size)) {
          L.status = RK_STATUS_INVALID;
          break;
        }
        if (req.len < sizeof cp) {
          L.status = RK_STATUS_BAD_CHECKPOINT;
          break;
        }
        const uint8_t *p = a.in_arena + req.u.desc.in_off;
        memcpy (&cp, p, sizeof cp);
        if (cp.magic != RK_CHECKPOINT_MAGIC || cp.version != RK_ABI_VERSION
            || cp.kernel_id != a.kernel_id || cp.n_params != a.n_params
            || cp.state_len != req.len - sizeof cp) {
          L.status = RK_STATUS_BAD_CHECKPOINT;
          break;
        }
        if (acc) {
          rk_accumulate_head head;
          if (cp.state_len < sizeof head) {
            L.status = RK_STATUS_BAD_CHECKPOINT;
            break;
          }
          memcpy (&head, p + sizeof cp, sizeof head);
          if (head.samples > RK_ACCUMULATE_MAX_SAMPLES
              || cp.state_len != offsetof (rk_accumulate_state, sum) + (uint64_t) head.samples * 8) {
            L.status = RK_STATUS_BAD_CHECKPOINT;
            break;
          }
          L.work.op = WORK_LOAD;
          L.work.in = p + sizeof cp;
          L.work.len = (uint32_t) cp.state_len;
        } else if (cp.state_len) {
          L.status = RK_STATUS_BAD_CHECKPOINT;
          break;
        }
        memcpy (L.params, cp.params, sizeof L.params);
        L.hlc = rk_hlc_next_recv (L.hlc, cp.hlc, L.now / 1000000ull);
        break;
      }
      case RK_CMD_TERMINATE:
        L.stop = 1;
        if (L.inbox) { /* read no more: a producer waiting for room there gives up */
          if (L.inbox_sys)
            st_release_sys32 (&L.inbox->closed, 1);
          else
            st_release_gpu32 (&L.inbox->closed, 1);
        }
        break;
      case RK_CMD_LINK:
        L.status = install_route (a, L, req);
        break;
      case RK_CMD_INBOX:
        L.status = switch_inbox (a, L, req);
        break;
      default:
        L.status = RK_STATUS_UNKNOWN_CMD;
        break;
    }
    if (L.status != RK_STATUS_OK)
      L.work.op = WORK_NONE;
  }
  __syncthreads ();

  /* the data-parallel part */
  if (L.work.op == WORK_ACCUMULATE_RESTART) {
    for (uint32_t i = tid; i < L.work.len / 4; i += blockDim.x)
      acc->sum[i] = 0.0;
    __syncthreads ();
    if (tid == 0)
      L.work.op = RK_KERNEL_ACCUMULATE;
    __syncthreads ();
  }
  if (L.work.op == WORK_SAVE || L.work.op == WORK_LOAD) {
    /* the state in device memory, the checkpoint in a mapped arena (16-byte aligned: arenas are, and
     * a checkpoint's header is a multiple of 16 bytes): 16 bytes a load, many in flight, since every
     * read of mapped memory crosses PCIe; the tail byte by byte */
    const bool save = L.work.op == WORK_SAVE;
    const uint8_t *src = save ? (const uint8_t *) acc : L.work.in;
    uint8_t *dst = save ? L.work.out : (uint8_t *) acc;
    const uint32_t n16 = L.work.len / 16;
    for (uint32_t i = tid; i < n16; i += blockDim.x) {
      const uint4 v = save ? __ldcg ((const uint4 *) src + i) : __ldcv ((const uint4 *) src + i);
      ((uint4 *) dst)[i] = v;
    }
    for (uint32_t i = n16 * 16 + tid; i < L.work.len; i += blockDim.x)
      dst[i] = save ? __ldcg (src + i) : __ldcv (src + i);
  } else if (L.work.op == WORK_SPECTRUM) {
    run_item (a, L.work, L.use_grid, grid);
    if (tid == 0) {
      /* every block is done: the window moves on, and the verdict is the answer's */
      rk_spectrum_state *sp = (rk_spectrum_state *) a.state;
      L.status = ld_relaxed_gpu32 (&a.sh->spec_status);
      if (L.status == RK_STATUS_OK) {
        ans.len = ld_relaxed_gpu32 (&a.sh->spec_len);
        const rk_spectrum_cmd *h = (const rk_spectrum_cmd *) SPEC_AREA (sp, command_off, uint8_t);
        sp->pos = (uint32_t) (((uint64_t) sp->pos + h->frames) % sp->nfft);
        sp->num_fft = ld_relaxed_gpu32 (&a.sh->spec_nf);
      }
    }
  } else if (L.work.op >= WORK_WAVE_STEP) {
    wave_run (a, L, grid);
  } else if (L.work.op != WORK_NONE) {
    run_item (a, L.work, L.use_grid, grid);
  }
  __syncthreads ();

  if (tid == 0) {
    rk_control *ctl = a.ctl;
    if (L.link_take || L.link_put)
      link_finish (a, L, L.status, ans.len, rk_hlc_next_send (L.hlc, L.now / 1000000ull));
    ans.status = L.status;
    if (L.status != RK_STATUS_OK) {
      ans.flags |= RK_REC_F_ERROR;
      ans.len = 0;
      st_relaxed_sys32 (&ctl->last_error, L.status);
      st_relaxed_sys64 (&ctl->errors, ++L.errors);
    }
    if (!(ans.flags & RK_REC_F_INLINE))
      ans.u.desc.arg = L.now;
    L.hlc = rk_hlc_next_send (L.hlc, L.now / 1000000ull);
    ans.hlc = L.hlc;
    st_relaxed_sys64 (&ctl->hlc, L.hlc);
    st_relaxed_sys64 (&ctl->records_in, ++L.records_in);
    st_relaxed_sys64 (&ctl->last_seq, req.seq);
  }
  __syncthreads ();
}

/* The work of a stateless handler on len bytes, with the actor's parameters (in_mapped: the input is
 * read past the L1, from mapped memory or another kernel's inbox). */
__device__ __forceinline__ Work
stateless_work (const rk_cuda_args &a, const LeaderState &L, const uint8_t *in, uint32_t in_mapped,
    uint8_t *out, uint32_t len)
{
  Work w;
  w.op = a.kernel_id;
  w.in_mapped = in_mapped;
  w.in = in;
  w.out = out;
  w.len = len;
  w.a = L.params[0];
  w.b = L.params[1];
  w.inv = 0.0;
  w.sum = nullptr;
  w.p = L.params;
  return w;
}

/* Whether a small record of a stateless handler (inline, or its regions these) can be served. */
__device__ __forceinline__ uint32_t
small_status (const rk_cuda_args &a, bool inl, uint32_t len, uint64_t in_off, uint64_t out_off,
    uint32_t out_cap)
{
  if (inl ? len > RK_INLINE_MAX
          : !region_ok (in_off, len, a.in_size) || !region_ok (out_off, out_cap, a.out_size))
    return RK_STATUS_INVALID;
  if (len % a.unit)
    return RK_STATUS_INVALID;
  return (inl ? RK_INLINE_MAX : out_cap) < len ? RK_STATUS_TOO_LARGE : RK_STATUS_OK;
}

/* One small record of a stateless handler, by `lanes` threads of a warp (a power of two, at least 4;
 * lane: which of them): SMALL_LANES each when groups serve a run side by side, the whole warp for a
 * record served alone (serve_alone ()). The output goes to ostage (shared memory) when not null, and
 * the arena's payload is not inline; else to where the record says. The HLC, the answer's time and
 * the counters are left to the caller. */
__device__ void
serve_small (const rk_cuda_args &a, const LeaderState &L, const rk_record &req, rk_record &ans,
    const uint8_t *staged, uint8_t *ostage, uint32_t lane, uint32_t lanes)
{
  const uint32_t group = lanes == 32 ? ~0u : ((1u << lanes) - 1) << ((threadIdx.x & 31) & ~(lanes - 1));
  const bool inl = req.flags & RK_REC_F_INLINE;
  const uint32_t status =
      small_status (a, inl, req.len, req.u.desc.in_off, req.u.desc.out_off, req.u.desc.out_cap);

  if (status == RK_STATUS_OK) {
    const Work w = stateless_work (a, L, inl ? req.u.bytes : staged ? staged : a.in_arena + req.u.desc.in_off,
        !inl && !staged, inl ? ans.u.bytes : ostage ? ostage : a.out_arena + req.u.desc.out_off, req.len);
    run_slice (w, lane, lanes);
  }
  __syncwarp (group);
  /* the answer's fields, spread over the four lanes (an inline answer's payload is already in place) */
  const bool failed = status != RK_STATUS_OK;
  if (lane == 0) {
    ans.type = req.type;
    ans.flags = (inl ? RK_REC_F_INLINE : 0) | (failed ? RK_REC_F_ERROR : 0);
    ans.len = failed ? 0 : req.len;
    ans.seq = req.seq;
  } else if (lane == 1) {
    ans.hlc = 0;
    ans.node = L.node;
    ans.status = status;
  } else if (lane == 2 && !inl) {
    ans.u.desc.in_off = 0;
    ans.u.desc.out_off = req.u.desc.out_off;
  } else if (lane == 3 && !inl) {
    ans.u.desc.out_cap = req.u.desc.out_cap;
    ans.u.desc.aux = 0;
    ans.u.desc.arg = 0;
  }
}

/* One thread, after a run of n small records has been stamped: the counters, the clock and the last
 * error (nfailed of them failed, the last of them with `last_status`) to the control block. */
__device__ void
count_run (const rk_cuda_args &a, LeaderState &L, uint32_t n, uint32_t nfailed, uint32_t last_status,
    uint64_t last_seq)
{
  if (nfailed) {
    st_relaxed_sys32 (&a.ctl->last_error, last_status);
    st_relaxed_sys64 (&a.ctl->errors, L.errors += nfailed);
  }
  L.records_in += n;
  st_relaxed_sys64 (&a.ctl->hlc, L.hlc);
  st_relaxed_sys64 (&a.ctl->records_in, L.records_in);
  st_relaxed_sys64 (&a.ctl->last_seq, last_seq);
}

/* After serve_small () of records [r, e), all threads: the clock and the counters, in record order.
 * One reading of the clock for the run (the HLC's wall part is in milliseconds, and a read of
 * %globaltimer costs far more than the rest of a small record's bookkeeping). Record k's stamp is
 * max (floor_k, stamp_{k-1} + 2) (rk_hlc_serve_floor ()), which unrolls to
 * max (L.hlc + 2 (k + 1), max over j <= k of (floor_j + 2 (k - j))): a prefix maximum, by warp 0,
 * 32 records a pass, with 2 (MAX_BATCH - j) added instead of 2 j taken away so that nothing wraps. */
__device__ void
finish_run (const rk_cuda_args &a, LeaderState &L, uint32_t r, uint32_t e)
{
  const uint32_t tid = threadIdx.x, n = e - r;
  if (tid < 32) {
    uint64_t now = tid == 0 ? globaltimer () : 0;
    now = __shfl_sync (~0u, now, 0);
    const uint64_t wall_ms = now / 1000000ull, t0 = L.hlc;
    uint64_t carry = 0;
    for (uint32_t k0 = 0; k0 < n; k0 += 32) {
      const uint32_t k = k0 + tid;
      uint64_t c = k < n ? rk_hlc_serve_floor (L.req[r + k].hlc, wall_ms) + 2 * (MAX_BATCH - k) : 0;
      for (uint32_t d = 1; d < 32; d <<= 1) {
        const uint64_t v = __shfl_up_sync (~0u, c, d);
        if (tid >= d)
          c = max (c, v);
      }
      c = max (c, carry);
      if (k < n)
        L.ans[r + k].hlc = max (t0 + 2 * (k + 1), c - 2 * (MAX_BATCH - k));
      carry = __shfl_sync (~0u, c, 31);
    }
    if (tid == 0) {
      L.now = now;
      L.last_failed = 0;
    }
  }
  __syncthreads ();
  const uint32_t i = r + tid;
  const bool failed = i < e && (L.ans[i].flags & RK_REC_F_ERROR);
  if (i < e && !(L.ans[i].flags & RK_REC_F_INLINE))
    L.ans[i].u.desc.arg = L.now;
  if (failed)
    atomicMax (&L.last_failed, i + 1);
  const uint32_t nfailed = __syncthreads_count (failed);
  if (tid == 0) {
    L.hlc = L.ans[e - 1].hlc;
    count_run (a, L, n, nfailed, nfailed ? L.ans[L.last_failed - 1].status : 0, L.req[e - 1].seq);
  }
}

/* Where an answer's payload that goes into the K2H mirror is made: after a payload staged in */
#define OSTAGE(L) ((uint8_t *) ((L).stage + PREFETCH_BYTES / 16))

/* Warp 0 alone: serve L.req[0], a record that came by itself (alone_record ()), into L.ans[0],
 * as serve_small () and finish_run () would for a run of one, but with the whole warp on its payload
 * and no block barrier. `now` (lane 0's): the clock, read as the record came in; `staged`: the
 * payload, read ahead into shared memory (or null: it is inline, or read from the arena now). A
 * record that comes alone is the latency case: the block path's barriers and bookkeeping for a batch
 * cost a 32-byte echo 2.0 us on the H100 from its arrival to its answer's release, this path 0.8.
 * With a K2H mirror the answer goes into it too (L.ans_ll), with its payload if it is small enough
 * (RK_REC_F_LL_OUT): that payload is made in shared memory (OSTAGE) and goes into the mirror only,
 * for the host to copy into the arena. An answer whose payload is in the output region does not
 * (rk_ll_answer_whole ()). */
__device__ void
serve_alone (const rk_cuda_args &a, LeaderState &L, uint64_t now, const uint8_t *staged)
{
  const uint32_t lane = threadIdx.x;
  const rk_record &req = L.req[0];
  rk_record &ans = L.ans[0];
  const bool carry = a.k2h_ll && !(req.flags & RK_REC_F_INLINE) && req.len <= RK_LL_MAX_PAYLOAD;
  serve_small (a, L, req, ans, staged, carry ? OSTAGE (L) : nullptr, lane, 32);
  __syncwarp (); /* the answer's fields, set by lanes 0 to 3 */
  if (lane == 0) {
    if (carry && !(ans.flags & RK_REC_F_ERROR))
      ans.flags |= RK_REC_F_LL_OUT;
    /* a payload in the output region is published by the fence and head alone (rk_ll.h) */
    L.ans_ll = a.k2h_ll && rk_ll_answer_whole (ans.flags, ans.len);
    /* finish_run ()'s stamp for a run of one: max (L.hlc + 2, the message's floor) */
    L.hlc = max (L.hlc + 2, rk_hlc_serve_floor (req.hlc, now / 1000000ull));
    L.now = now;
    ans.hlc = L.hlc;
    if (!(ans.flags & RK_REC_F_INLINE))
      ans.u.desc.arg = now;
    const bool failed = ans.flags & RK_REC_F_ERROR;
    count_run (a, L, 1, failed, ans.status, req.seq);
  }
  __syncwarp ();
}

/* Warp 0: read up to len (<= PREFETCH_BYTES) bytes at p ahead, chunk k * 32 + lane into ahead[k], all
 * in one round trip; sys: p is mapped host memory, else this device's memory written by another
 * kernel (read from L2). */
__device__ __forceinline__ void
read_ahead (uint4 (&ahead)[AHEAD_LOADS], const uint8_t *p, uint32_t len, uint32_t lane, bool sys)
{
#pragma unroll
  for (uint32_t k = 0; k < AHEAD_LOADS; k++) {
    const uint32_t c = k * 32 + lane;
    if (c * 16 < len)
      ahead[k] = sys ? ld_relaxed_sys_v4 ((const uint4 *) p + c) : __ldcg ((const uint4 *) p + c);
  }
}

/* ... and put what was read into L.stage, once it is known to be the payload. */
__device__ __forceinline__ void
stage_ahead (LeaderState &L, const uint4 (&ahead)[AHEAD_LOADS], uint32_t len, uint32_t lane)
{
#pragma unroll
  for (uint32_t k = 0; k < AHEAD_LOADS; k++) {
    const uint32_t c = k * 32 + lane;
    if (c * 16 < len)
      L.stage[c] = ahead[k];
  }
}

/* Where to read ahead for the next record that comes alone: where this one's payload (len bytes at off
 * in an arena of `size` bytes) was, up to max bytes; only a region inside the arena, 16-byte aligned,
 * so that the read ahead is one (glen 0: none). */
__device__ __forceinline__ void
next_guess (uint64_t &goff, uint32_t &glen, uint64_t off, uint32_t len, uint64_t size, uint32_t max)
{
  const uint32_t next = min ((len + 15) & ~15u, max);
  const bool fits = !(off & 15) && region_ok (off, next, size);
  goff = fits ? off : 0;
  glen = fits ? next : 0;
}

/* The data of lane `src`'s line, as two 32-bit words (the flags dropped), to every lane. */
__device__ __forceinline__ uint2
ll_bcast (ulonglong2 w, uint32_t src)
{
  return make_uint2 (__shfl_sync (~0u, (uint32_t) w.x, src), __shfl_sync (~0u, (uint32_t) w.y, src));
}

__device__ __forceinline__ uint64_t
ll_u64 (uint2 d)
{
  return (uint64_t) d.y << 32 | d.x;
}

/* Warp 0: are the first n lines of a mirror slot, lane i holding lines i and i + 32, all written for
 * flag? */
__device__ __forceinline__ bool
ll_lines_ready (ulonglong2 w0, ulonglong2 w1, uint32_t flag, uint32_t n, uint32_t lane)
{
  return __all_sync (~0u, (lane >= n || rk_ll_ready (w0.x, w0.y, flag))
                              && (lane + 32 >= n || rk_ll_ready (w1.x, w1.y, flag)));
}

/* Warp 0: the first n lines of a mirror slot (lane i holding lines i and i + 32) into shared memory:
 * lines 0 to 7, the record, into rec; the payload's into stage. */
__device__ __forceinline__ void
ll_unpack (rk_record &rec, uint4 *stage, ulonglong2 w0, ulonglong2 w1, uint32_t n, uint32_t lane)
{
  if (lane < 8)
    ((uint2 *) &rec)[lane] = make_uint2 ((uint32_t) w0.x, (uint32_t) w0.y);
  else if (lane < n)
    ((uint2 *) stage)[lane - 8] = make_uint2 ((uint32_t) w0.x, (uint32_t) w0.y);
  if (lane + 32 < n)
    ((uint2 *) stage)[lane + 24] = make_uint2 ((uint32_t) w1.x, (uint32_t) w1.y);
}

/* A link record taken from the mirror, as every lane sees it: the fields that serve_linked () uses. */
struct LLIn {
  uint64_t seq, hlc, in_off;
  uint32_t len, flags;
};

/* FROM_INBOX through the inbox's mirror (core/rk_ll.h), warp 0: wait for the inbox record at the tail
 * in its mirror slot, with req.len bytes of payload. The ring's head is read in the same trip. Lane i
 * keeps lines i and i + 32 in w0 and w1 (lines 0 to 7: the link record; then the payload), and every
 * lane gets the record's fields in r, from the lanes that hold them, with no trip through shared
 * memory. Returns 1 when taken; 0 when the head moved on with no such record in the mirror (one too
 * large for it, one that the producer's block put on the ring, one that failed or is not the one
 * asked for), for the ring's way to take it; 2 when the host cancelled the wait. */
__device__ uint32_t
ll_take (const rk_cuda_args &a, LeaderState &L, const rk_record &req, uint32_t lane, ulonglong2 &w0,
    ulonglong2 &w1, LLIn &r)
{
  const uint64_t pos = L.inbox_tail;
  const uint32_t flag = rk_ll_flag (pos), n = rk_ll_lines (req.len);
  const rk_ll_line *slot = rk_ll_slot (L.inbox_ll, pos, L.inbox_mask);
  w0 = w1 = make_ulonglong2 (0, 0);
  for (uint32_t polls = 0;; polls++) {
    uint64_t head = 0;
    if (lane == 0)
      head = ld_relaxed_gpu64 (&L.inbox->head);
    if (lane < n)
      w0 = ld_ll (slot + lane);
    if (lane + 32 < n)
      w1 = ld_ll (slot + lane + 32);
    if (ll_lines_ready (w0, w1, flag, n, lane))
      break;
    uint32_t stop = 0;
    if (lane == 0)
      stop = (int64_t) (head - pos) > 0 ? 1 : link_wait_tick (a, L, req, polls) ? 2 : 0;
    stop = __shfl_sync (~0u, stop, 0);
    if (stop)
      return stop == 1 ? 0 : 2;
  }
  /* rk_record: type and flags, then len (line 0); seq (1); hlc (2); u.desc.in_off (4) */
  const uint2 l0 = ll_bcast (w0, 0);
  r.flags = l0.x >> 16;
  r.len = l0.y;
  r.seq = ll_u64 (ll_bcast (w0, 1));
  r.hlc = ll_u64 (ll_bcast (w0, 2));
  r.in_off = ll_u64 (ll_bcast (w0, 4));
  return r.seq == req.u.desc.in_off && !(r.flags & RK_REC_F_ERROR) && r.len == req.len
      && region_ok (r.in_off, r.len, L.inbox_size);
}

/* Warp 0: record r and its payload (len bytes at ostage, in shared memory) into every line of a
 * mirror slot for flag (core/rk_ll.h): one of this device's inboxes, or, sys, the K2H ring's in
 * mapped memory. */
template <bool sys>
__device__ __forceinline__ void
ll_write (rk_ll_line *slot, uint32_t flag, const rk_record &r, const uint8_t *ostage, uint32_t len,
    uint32_t lane)
{
#pragma unroll
  for (uint32_t k = lane; k < RK_LL_LINES; k += 32) {
    uint2 d = make_uint2 (0, 0);
    if (k < 8)
      d = ((const uint2 *) &r)[k];
    else if ((k - 8) * 8 < len)
      d = ((const uint2 *) ostage)[k - 8];
    if (sys)
      st_ll_sys (slot + k, rk_ll_word (d.x, flag), rk_ll_word (d.y, flag));
    else
      st_ll (slot + k, rk_ll_word (d.x, flag), rk_ll_word (d.y, flag));
  }
}

/* TO_ROUTE through the route's mirror, warp 0: the link record lr and its payload (len bytes at
 * ostage, in shared memory) into the route's arena at out, and into the mirror slot of the route's
 * head, all of its lines (rk_ll.h). The fence and the head that follow (link_finish ()) publish
 * the same record on the ring. */
__device__ void
ll_put (const LeaderState &L, const rk_record &lr, const uint8_t *ostage, uint32_t len, uint8_t *out,
    uint32_t lane)
{
  if (lane * 16 < len)
    ((uint4 *) out)[lane] = ((const uint4 *) ostage)[lane];
  ll_write<false> (rk_ll_slot (L.route_ll, L.route_head, L.route_mask), rk_ll_flag (L.route_head), lr,
      ostage, len, lane);
}

/* Line k (< 8) of the link record that link_record () makes for a result of len bytes that went
 * well, stamped hlc. */
__device__ __forceinline__ uint2
link_record_line (const LeaderState &L, uint32_t k, uint32_t len, uint64_t hlc)
{
  switch (k) {
    case 0: return make_uint2 (RK_CMD_PROCESS, len); /* type, flags 0; len */
    case 1: return make_uint2 ((uint32_t) L.link_seq, (uint32_t) (L.link_seq >> 32));
    case 2: return make_uint2 ((uint32_t) hlc, (uint32_t) (hlc >> 32));
    case 3: return make_uint2 (L.node, RK_STATUS_OK);
    case 4: return make_uint2 ((uint32_t) L.link_off, (uint32_t) (L.link_off >> 32));
    default: return make_uint2 (0, 0);
  }
}

/* A hop in registers (ll_hop ()), planned before its data comes: where its lines go, and what they
 * hold but the data and the stamp. */
struct LLHop {
  rk_ll_line *slot; /* the route's mirror slot, or NULL: the output goes to the host's arena */
  uint8_t *out;     /* the payload's place in the route's arena, or in the host's */
  uint2 line;       /* lane < 8: that line of the link record (line 2, the stamp, comes later) */
  uint32_t flag;
  uint32_t scale;   /* scale, else echo */
  float fa, fb;
};

/* scale's result for one 4-byte word, rounded as run_slice () rounds it */
__device__ __forceinline__ uint32_t
scale_word (float fa, float fb, uint32_t x)
{
  return __float_as_uint (__fadd_rn (__fmul_rn (fa, __uint_as_float (x)), fb));
}

/* Is the actor's handler one that works on each 4-byte word alone, in registers? */
__device__ __forceinline__ bool
word_handler (const rk_cuda_args &a)
{
  return a.kernel_id == RK_KERNEL_ECHO || a.kernel_id == RK_KERNEL_SCALE;
}

__device__ __forceinline__ LLHop
ll_hop_plan (const rk_cuda_args &a, const LeaderState &L, const rk_record &req, bool to, uint32_t lane)
{
  const uint32_t len = req.len;
  LLHop h;
  h.slot = to ? rk_ll_slot (L.route_ll, L.route_head, L.route_mask) : nullptr;
  h.out = to ? L.route_arena + L.link_off : a.out_arena + req.u.desc.out_off;
  h.line = link_record_line (L, lane, len, 0);
  h.flag = rk_ll_flag (L.route_head);
  h.scale = a.kernel_id == RK_KERNEL_SCALE;
  h.fa = (float) L.params[0];
  h.fb = (float) L.params[1];
  return h;
}

/* A hop in registers, warp 0: a record taken from the inbox's mirror (its lines in w0 and w1, as
 * ll_take () left them), run through a word handler (echo, scale: as run_slice () does), goes into
 * the route's mirror from the same lanes, its link record stamped hlc, then into the route's arena;
 * or, at the end of a chain, into the host's arena (or into OSTAGE, for the K2H ring's mirror). What
 * is past len in the last line is zeros for scale, and whatever came for echo. */
__device__ __forceinline__ void
ll_hop (const LLHop &p, ulonglong2 w0, ulonglong2 w1, uint32_t len, uint64_t hlc, uint32_t lane)
{
  uint2 d[2];
#pragma unroll
  for (uint32_t h = 0; h < 2; h++) {
    const uint32_t k = lane + 32 * h, j = k - 8; /* line, and payload line */
    const ulonglong2 w = h ? w1 : w0;
    if (k < 8) {
      d[h] = k == 2 ? make_uint2 ((uint32_t) hlc, (uint32_t) (hlc >> 32)) : p.line;
    } else if (j * 8 >= len) {
      d[h] = make_uint2 (0, 0);
    } else if (p.scale) {
      d[h].x = scale_word (p.fa, p.fb, (uint32_t) w.x);
      d[h].y = j * 8 + 4 < len ? scale_word (p.fa, p.fb, (uint32_t) w.y) : 0;
    } else {
      d[h] = make_uint2 ((uint32_t) w.x, (uint32_t) w.y);
    }
    if (p.slot)
      st_ll (p.slot + k, rk_ll_word (d[h].x, p.flag), rk_ll_word (d[h].y, p.flag));
  }
#pragma unroll
  for (uint32_t h = 0; h < 2; h++) { /* exactly len bytes, as run_slice () writes */
    const uint32_t k = lane + 32 * h, j = k - 8;
    if (k < 8 || j * 8 >= len)
      continue;
    if (j * 8 + 8 <= len) {
      ((uint2 *) p.out)[j] = d[h];
    } else {
      const uint64_t v = (uint64_t) d[h].y << 32 | d[h].x;
      for (uint32_t i = j * 8; i < len; i++)
        p.out[i] = (uint8_t) (v >> (8 * (i - j * 8)));
    }
  }
}

/* Lane 0, once serve_linked ()'s result is out: the clock as received (hlc), the link records put and
 * taken (one fence), the answer and the counters. The answer goes into the K2H ring's mirror too,
 * unless its payload is in the output region (rk_ll_answer_whole ()), and kout: its payload, made in
 * OSTAGE, only there (RK_REC_F_LL_OUT). */
__device__ void
linked_done (const rk_cuda_args &a, LeaderState &L, const rk_record &req, uint64_t now, uint64_t hlc,
    bool from, bool to, bool kout)
{
  const uint64_t wall_ms = now / 1000000ull;
  L.now = now;
  L.hlc = hlc;
  L.link_take = from;
  link_finish (a, L, RK_STATUS_OK, req.len, rk_hlc_next_send (L.hlc, wall_ms));
  rk_record &ans = L.ans[0];
  memset (&ans, 0, sizeof ans);
  ans.type = req.type;
  ans.seq = req.seq;
  ans.node = L.node;
  ans.flags = to ? RK_REC_F_TO_ROUTE : 0;
  ans.len = req.len;
  ans.status = RK_STATUS_OK;
  ans.u.desc.out_off = req.u.desc.out_off;
  ans.u.desc.out_cap = req.u.desc.out_cap;
  ans.u.desc.arg = now;
  L.hlc = rk_hlc_next_send (L.hlc, wall_ms);
  ans.hlc = L.hlc;
  if (kout)
    ans.flags |= RK_REC_F_LL_OUT;
  /* a payload in the output region is published by the fence and head alone (rk_ll.h) */
  L.ans_ll = a.k2h_ll && rk_ll_answer_whole (ans.flags, ans.len);
  count_run (a, L, 1, 0, 0, req.seq);
}

/* A linked record that warp 0 may serve alone (serve_linked ()): a stateless handler's, small, its
 * input in the inbox or the arena and its output on the route or in the arena, with both ends of its
 * links on this device (a system-scope link goes to the block path). */
__device__ __forceinline__ bool
linked_record (const rk_cuda_args &a, const LeaderState &L, const rk_record &req)
{
  const bool from = req.flags & RK_REC_F_FROM_INBOX, to = req.flags & RK_REC_F_TO_ROUTE;
  return req.type == RK_CMD_PROCESS && a.state_size == 0 && (from || to) && req.len <= LINK_ALONE_BYTES
      && req.len % a.unit == 0 && !(req.flags & (RK_REC_F_INLINE | RK_REC_F_STAGED))
      && (!from || (L.inbox && !L.inbox_sys)) && (!to || (L.route && !L.route_sys));
}

/* Warp 0 alone: serve L.req[0], a linked record that came by itself (linked_record ()), as serve ()
 * serves it when all is as usual, into L.ans[0]; in_staged: its input, the host's, was read ahead into
 * L.stage with the record. A hop of a chain is a string of dependent steps. On the ring alone it took
 * 1.76 us on the H100: the inbox's head seen (0.32), the link record and the payload read in one trip
 * (0.29), the handler and the stores (0.58), and a fence (0.6) before the new head. Through the
 * inbox's mirror (core/rk_ll.h) the consumer sees the record and its payload in one trip as soon as
 * the producer's stores land, with no fence between; and a word handler (echo, scale) from one mirror
 * into the next, or into the host's arena, stays in registers (ll_hop ()), with no trip through
 * shared memory. Each of 7 hops of echo actors then adds 1.0 us, against 2.3 us before in the same
 * runs (bench-ring); the consumer sees the producer's stores 0.48 us after they were made (timed
 * with %globaltimer stamps). The fence and the head follow, for the ring. Returns false, having
 * changed nothing that serve () does not redo (no index moved, no clock stepped), when anything is
 * not as usual (no room on the route, a link record that failed upstream, of another length or
 * another sequence number, an output region that does not fit) or when the host cancels the wait:
 * the block path then serves the record, and says what is wrong. */
__device__ bool
serve_linked (const rk_cuda_args &a, LeaderState &L, bool in_staged)
{
  const uint32_t lane = threadIdx.x;
  const rk_record &req = L.req[0];
  rk_record &lr = L.req[1]; /* the link record: free, the batch is this one record */
  const bool from = req.flags & RK_REC_F_FROM_INBOX, to = req.flags & RK_REC_F_TO_ROUTE;
  uint64_t now = 0;
  uint32_t ok = 1;

  if (lane == 0) {
    now = globaltimer (); /* as serve () reads it: before the wait for the data */
    L.status = RK_STATUS_OK;
    L.link_put = L.link_take = L.link_fast = 0;
    if (to) {
      route_claim (a, L, req, req.len);
      ok = L.status == RK_STATUS_OK;
    }
    if (!from)
      ok = ok && region_ok (req.u.desc.in_off, req.len, a.in_size);
    if (!to)
      ok = ok && region_ok (req.u.desc.out_off, req.u.desc.out_cap, a.out_size) && req.u.desc.out_cap >= req.len;
  }
  ok = __shfl_sync (~0u, ok, 0);
  /* the host's input: read ahead into L.stage with the record, or read from the arena below */
  const uint8_t *in = in_staged ? (const uint8_t *) L.stage : a.in_arena + req.u.desc.in_off;
  bool staged = in_staged, fast = false;
  /* the stamps serve () gives: received (the record's, the link record's), sent down the route,
   * and the answer's; all but the link record's receipt made before its data comes */
  now = ((uint64_t) __shfl_sync (~0u, (uint32_t) (now >> 32), 0)) << 32 | __shfl_sync (~0u, (uint32_t) now, 0);
  const uint64_t wall_ms = now / 1000000ull;
  uint64_t hlc = req.hlc ? rk_hlc_next_recv (L.hlc, req.hlc, wall_ms) : rk_hlc_next_send (L.hlc, wall_ms);
  /* a word handler from the inbox's mirror into the route's, or the host's arena: the hop stays in
   * registers (ll_hop ()) */
  const bool mirror = to && L.route_ll && req.len <= RK_LL_MAX_PAYLOAD;
  /* ... and a result for the host that the K2H ring's mirror carries is made in OSTAGE */
  const bool kout = !to && a.k2h_ll && req.len <= RK_LL_MAX_PAYLOAD;
  if (ok && from && L.inbox_ll && req.len <= RK_LL_MAX_PAYLOAD) {
    ulonglong2 w0, w1;
    LLIn r;
    __syncwarp (); /* lane 0's claim on the route */
    const bool regs = (mirror || !to) && word_handler (a);
    LLHop plan = regs ? ll_hop_plan (a, L, req, to, lane) : LLHop ();
    if (kout)
      plan.out = OSTAGE (L);
    const uint32_t took = ll_take (a, L, req, lane, w0, w1, r);
    ok = took != 2;
    fast = took == 1;
    if (fast) {
      hlc = rk_hlc_next_recv (hlc, r.hlc, wall_ms);
      if (regs)
        ll_hop (plan, w0, w1, req.len, rk_hlc_next_send (hlc, wall_ms), lane);
      if (lane == 0) {
        next_guess (L.link_guess_off, L.link_guess_len, r.in_off, r.len, L.inbox_size, LINK_ALONE_BYTES);
        L.link_fast = 1;
      }
      if (regs) {
        __syncwarp (); /* every lane's output before lane 0's fence */
        if (lane == 0)
          linked_done (a, L, req, now, hlc, true, to, kout);
        __syncwarp ();
        return true;
      }
      /* the shared-memory way: the link record into lr, the payload into L.stage */
      ll_unpack (lr, L.stage, w0, w1, rk_ll_lines (req.len), lane);
      __syncwarp ();
      in = (const uint8_t *) L.stage;
      staged = true;
    }
  }
  if (ok && from && !fast) {
    rk_ring *ib = L.inbox;
    const uint64_t goff = L.link_guess_off;
    const uint32_t glen = L.link_guess_len;
    for (uint32_t polls = 0;; polls++) {
      uint32_t seen = 0;
      if (lane == 0) {
        /* pairs with the producer's release (a distance: see inbox_take ()) */
        seen = (int64_t) (ld_acquire_gpu (&ib->head) - L.inbox_tail) > 0;
        if (!seen && link_wait_tick (a, L, req, polls))
          seen = 2; /* cancelled: the block path answers so */
      }
      seen = __shfl_sync (~0u, seen, 0);
      if (seen) {
        ok = seen == 1;
        break;
      }
    }
    __syncwarp (); /* lane 0's acquire before the other lanes' reads */
    if (ok) {
      uint4 ahead[AHEAD_LOADS];
      if (lane < 4)
        ((uint4 *) &lr)[lane] = __ldcg ((const uint4 *) &rk_ring_slots (ib)[L.inbox_tail & L.inbox_mask] + lane);
      read_ahead (ahead, L.inbox_arena + goff, glen, lane, false);
      __syncwarp ();
      ok = lr.seq == req.u.desc.in_off && !(lr.flags & RK_REC_F_ERROR) && lr.len == req.len
          && region_ok (lr.u.desc.in_off, lr.len, L.inbox_size);
      if (ok) {
        in = L.inbox_arena + lr.u.desc.in_off;
        if (lr.u.desc.in_off == goff && lr.len <= glen) { /* read ahead where it is */
          stage_ahead (L, ahead, glen, lane);
          in = (const uint8_t *) L.stage;
          staged = true;
        }
        if (lane == 0)
          next_guess (L.link_guess_off, L.link_guess_len, lr.u.desc.in_off, lr.len, L.inbox_size,
              LINK_ALONE_BYTES);
      }
    }
    hlc = rk_hlc_next_recv (hlc, lr.hlc, wall_ms);
  }
  if (!ok) {
    if (lane == 0)
      L.link_put = L.link_fast = 0;
    __syncwarp ();
    return false;
  }
  __syncwarp (); /* the staged payload */

  /* mapped memory and another kernel's inbox are read past the L1. A result that goes into the
   * route's mirror is made in shared memory first (after the staged input), and goes from there into
   * the mirror and the arena. */
  uint8_t *out = to ? L.route_arena + L.link_off : a.out_arena + req.u.desc.out_off;
  uint8_t *ostage = OSTAGE (L);
  const Work w = stateless_work (a, L, in, !staged, mirror || kout ? ostage : out, req.len);
  run_slice (w, lane, 32);
  __syncwarp (); /* every lane's output before lane 0's fence, or the mirror's lines */

  if (mirror) {
    if (lane == 0)
      link_record (L, RK_STATUS_OK, req.len, rk_hlc_next_send (hlc, wall_ms), L.req[2]);
    __syncwarp ();
    ll_put (L, L.req[2], ostage, req.len, out, lane);
    __syncwarp ();
  }
  if (lane == 0)
    linked_done (a, L, req, now, hlc, from, to, kout);
  __syncwarp ();
  return true;
}

/* A record of the host for a stateless handler, of at most max_len bytes: served by a few threads in
 * a run of them (small_record ()), or by warp 0 when it comes alone (alone_record ()). */
__device__ __forceinline__ bool
stateless_record (const rk_cuda_args &a, const rk_record &req, uint32_t max_len)
{
  return req.type == RK_CMD_PROCESS && a.state_size == 0 && req.len <= max_len
      && !(req.flags & (RK_REC_F_STAGED | RK_REC_F_FROM_INBOX | RK_REC_F_TO_ROUTE));
}

__device__ __forceinline__ bool
small_record (const rk_cuda_args &a, const rk_record &req)
{
  return stateless_record (a, req, SMALL_MAX_BYTES);
}

__device__ __forceinline__ bool
alone_record (const rk_cuda_args &a, const rk_record &req)
{
  return stateless_record (a, req, PREFETCH_BYTES);
}

/* Worker blocks: wait for a work item (in device memory), run their slice, count themselves done. */
__device__ void
worker_loop (const rk_cuda_args &a, int grid)
{
  __shared__ Work w;
  __shared__ uint32_t go;
  rk_cuda_shared *sh = a.sh;
  uint64_t seen = 0;

  if (threadIdx.x == 0)
    atomicAdd (&sh->arrived, 1u); /* the leader starts serving once every block is here */
  for (;;) {
    if (threadIdx.x == 0) {
      uint32_t backoff = 32, polls = 0;
      go = 0;
      for (;; polls++) {
        uint64_t e = ld_acquire_gpu (&sh->epoch);
        if (e != seen) {
          seen = e;
          w.op = sh->op;
          w.in = (const uint8_t *) (uintptr_t) sh->in;
          w.out = (uint8_t *) (uintptr_t) sh->out;
          w.len = sh->n;
          w.a = sh->a;
          w.b = sh->b;
          w.inv = sh->inv;
          w.p = sh->p;
          w.imp = sh->imp;
          w.in_mapped = 1;
          w.sum = a.state && a.kernel_id == RK_KERNEL_ACCUMULATE ? ((rk_accumulate_state *) a.state)->sum : nullptr;
          go = 1;
          break;
        }
        if (ld_relaxed_gpu32 (&sh->stop))
          break;
        if (polls < 4096)
          continue; /* items come in quick succession (a wave's one-step records): no sleep at first */
        __nanosleep (backoff);
        if (backoff < 2000)
          backoff *= 2;
      }
    }
    __syncthreads ();
    if (!go)
      return;
    if (w.op == WORK_WAVE_STEPS)
      wave_steps (sh, w, blockIdx.x, grid);
    else if (w.op == WORK_SPECTRUM)
      spectrum_work (a, w, blockIdx.x, grid);
    else
      run_slice (w, blockIdx.x * blockDim.x + threadIdx.x, grid * blockDim.x);
    if (w.op == WORK_WAVE_STEPS || w.op == WORK_WAVE_CLEAR)
      __threadfence (); /* device memory only, read by the grid next */
    else
      __threadfence_system ();
    __syncthreads ();
    if (threadIdx.x == 0)
      atomicAdd ((unsigned long long *) &sh->done, 1ull);
  }
}

/* Gather the payloads of records [r, e) (small, stateless, in the arena) into L.stage with the whole
 * block, one 16-byte load per thread and chunk, so that the batch costs one PCIe round trip for all
 * payloads instead of one per record. Where each payload goes is an exclusive prefix sum of their
 * sizes, by warp 0, 32 records a pass. A payload that is not 16-byte aligned is left in mapped memory,
 * as are those past the stage's end. All threads call it. */
__device__ void
gather (const rk_cuda_args &a, LeaderState &L, uint32_t r, uint32_t e)
{
  const uint32_t tid = threadIdx.x, n = e - r;
  if (tid < 32) {
    uint32_t base = 0, filled = 0;
    uint64_t mask = 0;
    for (uint32_t i0 = 0; i0 < n; i0 += 32) {
      const uint32_t i = i0 + tid;
      uint32_t c = 0;
      bool ok = false;
      if (i < n) {
        const rk_record &q = L.req[r + i];
        c = (q.len + 15) / 16;
        ok = !(q.flags & RK_REC_F_INLINE) && !(q.u.desc.in_off & 15)
            && region_ok (q.u.desc.in_off, (uint64_t) c * 16, a.in_size);
        if (!ok)
          c = 0;
      }
      uint32_t end = c; /* inclusive sum over the lanes up to this one */
      for (uint32_t d = 1; d < 32; d <<= 1) {
        const uint32_t v = __shfl_up_sync (~0u, end, d);
        if (tid >= d)
          end += v;
      }
      end += base;
      ok = ok && end <= STAGE_BYTES / 16;
      if (i < n)
        L.stage_at[i] = end - c;
      mask |= (uint64_t) __ballot_sync (~0u, ok) << i0;
      uint32_t top = ok ? end : 0; /* the stage is filled up to the last payload that fits */
      for (uint32_t d = 16; d; d >>= 1)
        top = max (top, __shfl_xor_sync (~0u, top, d));
      filled = max (filled, top);
      base = __shfl_sync (~0u, end, 31);
    }
    if (tid == 0) {
      L.stage_mask = mask;
      L.staged_chunks = filled;
    }
  }
  __syncthreads ();
  /* starts never decrease, and a payload that is not staged takes no chunk, so chunk c belongs to the
   * last record that starts at or before it */
  for (uint32_t c = tid; c < L.staged_chunks; c += blockDim.x) {
    uint32_t lo = 0, hi = n;
    while (hi - lo > 1) {
      const uint32_t mid = (lo + hi) / 2;
      if (L.stage_at[mid] <= c)
        lo = mid;
      else
        hi = mid;
    }
    const uint4 *src = (const uint4 *) (a.in_arena + L.req[r + lo].u.desc.in_off);
    L.stage[c] = ld_relaxed_sys_v4 (src + (c - L.stage_at[lo]));
  }
  __syncthreads ();
}

/* One thread, before `served` answers are written at K2H index k2h_head: wait for their room. The
 * host keeps at most `entries` (the ring's, read once: it is in mapped memory) records in flight, so
 * there is room; the cached tail (*k2h_tail) is re-read (a PCIe round trip) only when it says
 * otherwise. */
__device__ __forceinline__ void
wait_k2h_room (const rk_ring *k2h, uint32_t entries, uint64_t k2h_head, uint32_t served, uint64_t *k2h_tail)
{
  while (k2h_head + served - *k2h_tail > entries) {
    *k2h_tail = ld_acquire_sys (&k2h->tail);
    if (k2h_head + served - *k2h_tail > entries)
      __nanosleep (1000);
  }
}

/* One thread, once the answers up to K2H index k2h_head and their outputs are written (and ordered
 * before this thread by a barrier): publish them, and give back the H2K slots up to `tail`. One fence
 * for them all, the release's own: every output and answer reaches host memory before the new head,
 * and the reads of the H2K slots are done before the new tail lets the host reuse them. Each further
 * system-scope fence costs about 0.7 us on the H100. */
__device__ __forceinline__ void
publish_answers (const rk_cuda_args &a, LeaderState &L, uint64_t k2h_head, uint64_t tail, uint32_t served)
{
  st_release_sys (&a.k2h->head, k2h_head); /* pairs with the host's load-acquire */
  st_relaxed_sys64 (&a.h2k->tail, tail);   /* pairs with the host's load-acquire before reuse */
  st_relaxed_sys64 (&a.ctl->records_out, L.records_out += served);
}

/* Lane 0, while it waits for the host: the heartbeat, and a slow poll when paused. */
__device__ __forceinline__ void
h2k_idle (const rk_cuda_args &a, LeaderState &L)
{
  const uint64_t now = globaltimer ();
  if (now - L.last_beat > BEAT_NS) {
    L.last_beat = now;
    st_relaxed_sys64 (&a.ctl->heartbeat, ++L.beats);
  }
  if (L.paused)
    __nanosleep (PAUSED_POLL_NS);
}

/* The first poll after an answer served alone. A PCIe read of host memory takes about 1 us there
 * and back, and a poll that reaches host memory just before the host's next record costs the round
 * trip a whole read more: polling at once after the answer, it arrives about when the answer does,
 * before the host has answered it. So that poll waits poll_delay ns after the answer, a delay that
 * follows the host's reaction: longer when the first poll came too early and the second found the
 * record, shorter when the first found it. Records that come at any other time (a stream, or a host
 * slower than a read) change nothing; the delay never exceeds POLL_DELAY_MAX_NS. */
#define POLL_DELAY_UP_NS 64
#define POLL_DELAY_DOWN_NS 8
#define POLL_DELAY_MAX_NS 2000

/* Lane 0, before polling the H2K ring */
__device__ __forceinline__ void
poll_phase_wait (const LeaderState &L)
{
  if (L.after_answer)
    while (globaltimer () - L.answered_ns < L.poll_delay)
      ;
}

/* Lane 0, with a record found after `misses` polls that did not find it */
__device__ __forceinline__ void
poll_phase_adapt (LeaderState &L, uint32_t misses)
{
  if (!L.after_answer)
    return;
  L.after_answer = 0;
  if (misses == 0)
    L.poll_delay = L.poll_delay > POLL_DELAY_DOWN_NS ? L.poll_delay - POLL_DELAY_DOWN_NS : 0;
  else if (misses == 1)
    L.poll_delay = min (L.poll_delay + POLL_DELAY_UP_NS, POLL_DELAY_MAX_NS);
}

/* Warp 0: wait for records at the H2K tail by the head; returns how many to take (at most MAX_BATCH),
 * in every lane. */
__device__ uint32_t
poll_h2k (const rk_cuda_args &a, LeaderState &L, uint64_t tail)
{
  uint32_t n = 0;
  if (threadIdx.x == 0) {
    poll_phase_wait (L);
    for (uint32_t misses = 0;; misses++) {
      const uint64_t head = ld_acquire_sys (&a.h2k->head); /* pairs with the host's store-release */
      if (head != tail) {
        n = (uint32_t) min (head - tail, (uint64_t) MAX_BATCH);
        poll_phase_adapt (L, misses);
        break;
      }
      h2k_idle (a, L);
    }
    L.nreq = n;
    L.loaded = 0;
    st_relaxed_sys64 (&a.ctl->batches, ++L.batches);
  }
  return __shfl_sync (~0u, n, 0);
}

#define MIRRORED (MAX_BATCH + 1) /* poll_h2k_ll (): the one record came whole from the mirror */
#define SERVED (MAX_BATCH + 2)   /* ... and was served in registers (hop_alone ()) */

/* Warp 0: are the lines of the H2K mirror slot of ring position pos that lane i read (i and i + 32,
 * of the first `want`) a whole record for it, with its payload if it carries one? The record's
 * sequence number is its position: a slot that the host has not mirrored for 2^32 positions could
 * otherwise pass for a new one when the flag wraps. */
__device__ __forceinline__ bool
h2k_ll_whole (ulonglong2 w0, ulonglong2 w1, uint64_t pos, uint32_t want, uint32_t lane)
{
  const uint32_t flag = rk_ll_flag (pos);
  if (!ll_lines_ready (w0, w1, flag, 8, lane) || ll_u64 (ll_bcast (w0, 1)) != pos) /* the record */
    return false;
  const uint2 l0 = ll_bcast (w0, 0); /* type and flags; len */
  const uint32_t need = rk_ll_carries (l0.x & 0xffff, l0.x >> 16, l0.y) ? rk_ll_lines (l0.y) : 8;
  return need <= want && ll_lines_ready (w0, w1, flag, need, lane);
}

/* Warp 0: serve the record at H2K position tail that came whole from the mirror, its lines in w0 and
 * w1 as poll_h2k_ll () read them, if it is one that serve_alone () would serve and a word handler
 * (echo, scale) can serve in registers: inline, or with its payload carried in the mirror, its regions
 * and length right. Its answer then goes from the same lanes into the K2H ring's mirror (all of the
 * slot's lines) and slot at k2h_head, as serve_alone () and the leader loop would make it, with no
 * trip through shared memory or the handler's general code, which together cost a 64-byte echo about
 * 1.2 us of the GPU's time on the H100. Returns false (nothing done) for any other record; the caller
 * publishes the answer. What is past len in the payload's last line is zeros. */
__device__ __forceinline__ bool
hop_alone (const rk_cuda_args &a, LeaderState &L, ulonglong2 w0, ulonglong2 w1, uint64_t k2h_head,
    uint32_t mask, uint32_t lane)
{
  const uint2 l0 = ll_bcast (w0, 0), l6 = ll_bcast (w0, 6);
  const uint32_t type = l0.x & 0xffff, flags = l0.x >> 16, len = l0.y, out_cap = l6.x;
  const uint64_t in_off = ll_u64 (ll_bcast (w0, 4)), out_off = ll_u64 (ll_bcast (w0, 5));
  const bool inl = flags == RK_REC_F_INLINE;
  if (!a.k2h_ll || !word_handler (a) || a.state_size || type != RK_CMD_PROCESS || (flags && !inl)
      || (!inl && len > RK_LL_MAX_PAYLOAD)
      || small_status (a, inl, len, in_off, out_off, out_cap) != RK_STATUS_OK)
    return false;
  const uint64_t seq = ll_u64 (ll_bcast (w0, 1)), stamp = ll_u64 (ll_bcast (w0, 2));
  uint64_t now = 0, hlc = 0;
  if (lane == 0) {
    now = globaltimer ();
    hlc = L.hlc = max (L.hlc + 2, rk_hlc_serve_floor (stamp, now / 1000000ull));
    L.now = now;
  }
  now = __shfl_sync (~0u, now, 0);
  hlc = __shfl_sync (~0u, hlc, 0);
  const bool scale = a.kernel_id == RK_KERNEL_SCALE;
  const float fa = (float) L.params[0], fb = (float) L.params[1];
  const uint32_t first = inl ? 4 : 8; /* the payload's first line: in the record, or after it */
  const uint32_t flag = rk_ll_flag (k2h_head);
  rk_ll_line *slot = a.k2h_ll + (k2h_head & mask) * RK_LL_LINES;
#pragma unroll
  for (uint32_t h = 0; h < 2; h++) {
    const uint32_t k = lane + 32 * h;
    const ulonglong2 w = h ? w1 : w0;
    uint2 d = make_uint2 (0, 0);
    if (k >= first && (k - first) * 8 < len && (!inl || k < 8)) {
      const uint32_t j = (k - first) * 8;
      d = make_uint2 ((uint32_t) w.x, j + 4 < len ? (uint32_t) w.y : 0);
      if (scale) {
        d.x = scale_word (fa, fb, d.x);
        d.y = j + 4 < len ? scale_word (fa, fb, d.y) : 0;
      }
    } else if (k < 8) {
      switch (k) { /* the answer's record: serve_small () and serve_alone ()'s */
        case 0: d = make_uint2 (RK_CMD_PROCESS | (inl ? RK_REC_F_INLINE : RK_REC_F_LL_OUT) << 16, len); break;
        case 1: d = make_uint2 ((uint32_t) seq, (uint32_t) (seq >> 32)); break;
        case 2: d = make_uint2 ((uint32_t) hlc, (uint32_t) (hlc >> 32)); break;
        case 3: d = make_uint2 (L.node, RK_STATUS_OK); break;
        case 5: d = inl ? d : make_uint2 ((uint32_t) out_off, (uint32_t) (out_off >> 32)); break;
        case 6: d = inl ? d : make_uint2 (out_cap, 0); break;
        case 7: d = inl ? d : make_uint2 ((uint32_t) now, (uint32_t) (now >> 32)); break;
        default: break; /* in_off 0 */
      }
    }
    st_ll_sys (slot + k, rk_ll_word (d.x, flag), rk_ll_word (d.y, flag));
    if (k < 8) /* the ring's slot, which the host reads once the head has moved */
      st_relaxed_sys_v2 ((uint2 *) &rk_ring_slots (a.k2h)[k2h_head & mask] + k, d);
  }
  if (lane == 0) {
    count_run (a, L, 1, 0, RK_STATUS_OK, seq);
    L.h2k_ll_use = 1;
    if (!inl) {
      L.h2k_ll_guess = rk_ll_lines (len) - 8;
      next_guess (L.guess_off, L.guess_len, in_off, len, a.in_size, PREFETCH_BYTES);
    }
  }
  return true;
}

/* Warp 0: wait for records at the H2K tail by the head and the mirror (core/rk_ll.h) at once: one
 * PCIe round trip reads the head (lane 0), the tail's record in the mirror (lanes 0 to 7), and as
 * many lines of payload as the last record's took. A record that came whole (the host writes the
 * mirror before the head) is put in L.req[0], its payload in L.stage, and MIRRORED returned; a batch
 * of more than one record, or one that the mirror did not bring whole, is taken by the head, as
 * poll_h2k () does. */
__device__ __noinline__ uint32_t
poll_h2k_ll (const rk_cuda_args &a, LeaderState &L, uint64_t tail, uint32_t mask, uint64_t k2h_head,
    bool k2h_room)
{
  const uint32_t lane = threadIdx.x, flag = rk_ll_flag (tail);
  const rk_ll_line *slot = a.h2k_ll + (tail & mask) * RK_LL_LINES;
  const uint32_t want = 8 + L.h2k_ll_guess; /* lines read */
  uint32_t n = 0, misses = 0;
  ulonglong2 w0, w1;
  if (lane == 0)
    poll_phase_wait (L);
  __syncwarp ();
  for (;; misses++) {
    /* the mirror's loads first: the acquire holds back only what comes after it */
    w0 = w1 = make_ulonglong2 (0, 0);
    if (lane < want)
      w0 = ld_ll_sys (slot + lane);
    if (lane + 32 < want)
      w1 = ld_ll_sys (slot + lane + 32);
    uint64_t head = 0;
    if (lane == 0)
      head = ld_acquire_sys (&a.h2k->head); /* pairs with the host's store-release */
    const int64_t avail = (int64_t) __shfl_sync (~0u, (long long) (head - tail), 0);
    if (avail > 1) { /* a batch: by the head */
      n = (uint32_t) min ((uint64_t) avail, (uint64_t) MAX_BATCH);
      break;
    }
    if (h2k_ll_whole (w0, w1, tail, want, lane)) {
      n = MIRRORED;
      break;
    }
    if (avail == 1) {
      /* the head moved: what the host mirrored before it is there now (lane 0's acquire is before
       * these loads), so one more read of the mirror finds a record it mirrored whole; else the
       * record is taken by the head (too large for the lines read, or not mirrored) */
      __syncwarp ();
      if (lane < want)
        w0 = ld_ll_sys (slot + lane);
      if (lane + 32 < want)
        w1 = ld_ll_sys (slot + lane + 32);
      n = h2k_ll_whole (w0, w1, tail, want, lane) ? MIRRORED : 1;
      break;
    }
    if (lane == 0)
      h2k_idle (a, L);
    __syncwarp ();
  }
  if (n == MIRRORED && k2h_room && hop_alone (a, L, w0, w1, k2h_head, mask, lane))
    n = SERVED;
  if (n == MIRRORED)
    ll_unpack (L.req[0], L.stage, w0, w1, want, lane);
  if (lane == 0) {
    poll_phase_adapt (L, misses);
    L.nreq = n >= MIRRORED ? 1 : n;
    L.loaded = n >= MIRRORED;
    st_relaxed_sys64 (&a.ctl->batches, ++L.batches);
    if (n >= MIRRORED)
      st_relaxed_sys64 (&a.ctl->h2k_fast, ++L.h2k_fast);
  }
  __syncwarp ();
  return n;
}

/* Lane 0, with the record that came alone: read as many payload lines with the next record from the
 * H2K mirror as this one's took (one that carries none, such as a command between buffers, keeps the
 * guess), and poll the mirror while the records that come alone are ones the host mirrors. */
__device__ __forceinline__ void
h2k_ll_next (const rk_cuda_args &a, LeaderState &L, const rk_record &req)
{
  if (!a.h2k_ll || req.type != RK_CMD_PROCESS)
    return;
  const bool carries = rk_ll_carries (req.type, req.flags, req.len);
  if (carries)
    L.h2k_ll_guess = rk_ll_lines (req.len) - 8;
  L.h2k_ll_use = carries || (req.flags & (RK_REC_F_INLINE | RK_REC_F_FROM_INBOX));
}

/* Warp 0: serve the record that came whole from the H2K mirror (poll_h2k_ll ()), alone or linked, as
 * the leader loop serves one read from the ring; its payload, if it carries one, is in L.stage.
 * Returns false, with the record left in L.req[0] for the block, when warp 0 does not serve it. Kept
 * out of line: the leader loop's registers stay as they were for the rest. */
__device__ __noinline__ bool
serve_mirrored (const rk_cuda_args &a, LeaderState &L, uint64_t tail)
{
  const uint32_t lane = threadIdx.x;
  const rk_record &req = L.req[0];
  const bool carried = rk_ll_carries (req.type, req.flags, req.len), inl = req.flags & RK_REC_F_INLINE;
  const bool alone = alone_record (a, req);
  const bool linked = !alone && linked_record (a, L, req);
  const bool host_in = linked && !(req.flags & RK_REC_F_FROM_INBOX);
  if (lane == 0) {
    h2k_ll_next (a, L, req);
    if ((alone || host_in) && !inl) /* where the arena's payload was, for the ring's way */
      next_guess (L.guess_off, L.guess_len, req.u.desc.in_off, req.len, a.in_size, PREFETCH_BYTES);
  }
  __syncwarp ();
  if (alone) { /* the payload came with it (carried), or is in the record (inline) */
    const uint64_t now = lane == 0 ? globaltimer () : 0;
    serve_alone (a, L, now, carried ? (const uint8_t *) L.stage : nullptr);
    return true;
  }
  if (linked && serve_linked (a, L, host_in && carried))
    return true;
  if (lane == 0) {
    /* the block reads the payload from the arena: after the head that publishes it */
    if (carried)
      while ((int64_t) (ld_acquire_sys (&a.h2k->head) - tail) <= 0)
        ;
    L.loaded = 1;
  }
  __syncwarp ();
  return false;
}

__device__ void
leader_loop (const rk_cuda_args &a, int grid)
{
  __shared__ LeaderState L;
  const uint32_t tid = threadIdx.x;
  rk_ring *h2k = a.h2k, *k2h = a.k2h;
  rk_record *in_slots = rk_ring_slots (h2k), *out_slots = rk_ring_slots (k2h);
  const uint32_t mask = h2k->mask, k2h_entries = k2h->entries;
  uint64_t tail = h2k->tail, k2h_head = k2h->head, k2h_tail = k2h->tail;

  if (tid == 0) {
    for (uint32_t i = 0; i < RK_MAX_PARAMS; i++)
      L.params[i] = a.params[i];
    L.hlc = 0;
    L.guess_off = 0;
    L.guess_len = 0;
    L.stop = 0;
    L.paused = 0;
    L.node = a.ctl->node;
    L.records_in = L.records_out = L.errors = L.beats = L.batches = 0;
    L.inbox = a.inbox;
    L.inbox_arena = a.inbox_arena;
    L.inbox_size = a.inbox_size;
    L.inbox_tail = a.inbox ? __ldcg ((const unsigned long long *) &a.inbox->tail) : 0;
    L.inbox_mask = a.inbox ? __ldcg (&a.inbox->mask) : 0;
    L.link_guess_off = 0;
    L.link_guess_len = 0;
    L.h2k_ll_use = 1;
    L.h2k_ll_guess = 0;
    L.ans_ll = 0;
    L.after_answer = 0;
    L.poll_delay = 0;
    L.answered_ns = 0;
    L.inbox_sys = 0;
    L.inbox_ll = a.inbox_ll;
    L.route = nullptr;
    L.route_sys = 0;
    L.route_ll = 0;
    L.link_take = L.link_put = L.link_fast = 0;
    L.routed_in = L.routed_out = L.skipped_in = L.fast_in = L.h2k_fast = 0;
    L.last_beat = globaltimer ();
    if (a.kernel_id == RK_KERNEL_ACCUMULATE) {
      rk_accumulate_state *acc = (rk_accumulate_state *) a.state;
      acc->count = 0;
      acc->samples = 0;
    }
    set_state (a.ctl, RK_STATE_LAUNCHED);
    /* Grid-wide work needs every block running at once. A cooperative launch only promises that the
     * blocks fit on an idle GPU: beside other persistent actors (which never end) some may wait for
     * room forever. Wait for them a bounded time; without them, end at once and say why, rather than
     * hang at the first grid barrier. Blocks that start later find stop set and leave. */
    const uint64_t t0 = globaltimer ();
    uint32_t verdict = 1;
    while (ld_acquire_gpu32 (&a.sh->arrived) < (uint32_t) grid - 1) {
      if (globaltimer () - t0 > RESIDENT_WAIT_NS) {
        verdict = 2;
        break;
      }
      __nanosleep (1000);
    }
    a.sh->started = verdict;
    if (verdict == 2) {
      *(volatile uint32_t *) &a.sh->stop = 1;
      __threadfence ();
      st_relaxed_sys32 (&a.ctl->last_error, RK_STATUS_NOT_RESIDENT);
      set_state (a.ctl, RK_STATE_FAILED);
    } else {
      set_state (a.ctl, RK_STATE_ACTIVE);
    }
  }
  __syncthreads ();
  if (a.sh->started != 1)
    return;

  while (!L.stop) {
    if (tid < 32) {
      /* Warp 0 takes the next records. A small record that comes by itself, of the host
       * (serve_alone ()) or linked (serve_linked ()), is served by this warp alone, while the other
       * warps wait at the barrier below; anything else goes to the whole block. */
      for (;;) {
        /* n: records to take, or MIRRORED: the one record at the tail came whole from the H2K mirror
         * (into L.req[0], its payload, if it carries one, into L.stage) */
        /* room for an answer at the K2H head, as lane 0 (which alone keeps k2h_tail) knows it */
        const bool room = __shfl_sync (~0u, (int) (k2h_head + 1 - k2h_tail <= k2h_entries), 0);
        const uint32_t n = a.h2k_ll && L.h2k_ll_use ? poll_h2k_ll (a, L, tail, mask, k2h_head, room)
                                                    : poll_h2k (a, L, tail);
        __syncwarp (); /* lane 0's acquire before the other lanes' reads of the slots */
        if (n == SERVED) {
          /* answered in registers, into the K2H ring's slot and mirror */
        } else if (n == MIRRORED) {
          if (!serve_mirrored (a, L, tail))
            break;
        } else {
          if (n != 1) {
            if (tid == 0) /* a stream: the head alone, until records come one at a time again */
              L.h2k_ll_use = 0;
            break;
          }
          /* the record, and beside it (in the same round trip, after the same acquire) where its
           * payload is likely to be */
          const uint64_t goff = L.guess_off;
          const uint32_t glen = L.guess_len;
          uint4 ahead[AHEAD_LOADS];
          if (tid < 4)
            ((uint4 *) &L.req[0])[tid] = ld_relaxed_sys_v4 ((const uint4 *) &in_slots[tail & mask] + tid);
          read_ahead (ahead, a.in_arena + goff, glen, tid, true);
          __syncwarp ();
          const rk_record &req = L.req[0];
          const bool alone = alone_record (a, req), inl = req.flags & RK_REC_F_INLINE;
          const bool hit = !inl && req.u.desc.in_off == goff && req.len <= glen; /* read ahead where it is */
          /* a linked record whose input is the host's (the head of a chain) is read ahead the same way */
          const bool linked = !alone && linked_record (a, L, req);
          const bool host_in = linked && !(req.flags & RK_REC_F_FROM_INBOX);
          if (tid == 0)
            h2k_ll_next (a, L, req);
          if ((alone || host_in) && !inl) {
            __syncwarp (); /* every lane has read the guess */
            if (tid == 0)
              next_guess (L.guess_off, L.guess_len, req.u.desc.in_off, req.len, a.in_size, PREFETCH_BYTES);
          }
          /* a payload of more than SMALL_MAX_BYTES not read ahead (one the host did not write where
           * the last one was, such as a buffer of the element's pool) is read faster by the block */
          if (alone && (inl || hit || req.len <= SMALL_MAX_BYTES)) {
            /* the clock as the record is served (as serve () reads it); used only after the handler,
             * which hides the cost of reading it */
            const uint64_t now = tid == 0 ? globaltimer () : 0;
            if (hit)
              stage_ahead (L, ahead, glen, tid);
            __syncwarp (); /* the staged payload */
            serve_alone (a, L, now, hit ? (const uint8_t *) L.stage : nullptr);
          } else {
            if (host_in && hit)
              stage_ahead (L, ahead, glen, tid);
            __syncwarp (); /* the staged payload */
            if (!linked || !serve_linked (a, L, host_in && hit)) {
              if (tid == 0)
                L.loaded = 1;
              break;
            }
          }
        }
        if (n != SERVED) {
          if (tid == 0)
            wait_k2h_room (k2h, k2h_entries, k2h_head, 1, &k2h_tail);
          __syncwarp ();
          if (L.ans_ll) /* the mirror first: the host takes the answer there without the release */
            ll_write<true> (a.k2h_ll + (k2h_head & mask) * RK_LL_LINES, rk_ll_flag (k2h_head), L.ans[0],
                OSTAGE (L), L.ans[0].flags & RK_REC_F_LL_OUT ? L.ans[0].len : 0, tid);
          if (tid < 4)
            st_relaxed_sys_v4 ((uint4 *) &out_slots[k2h_head & mask] + tid, ((const uint4 *) &L.ans[0])[tid]);
        }
        __syncwarp (); /* the answer and the output before the release */
        k2h_head++;
        tail++;
        if (tid == 0) {
          publish_answers (a, L, k2h_head, tail, 1);
          L.ans_ll = 0;
          L.answered_ns = globaltimer (); /* after the release's fence */
          L.after_answer = 1;
        }
      }
      if (tid == 0) {
        L.in_tail = tail;
        L.out_head = k2h_head;
      }
    }
    __syncthreads ();
    tail = L.in_tail;
    k2h_head = L.out_head;
    const uint32_t n = L.nreq;
    /* every thread reads 16 bytes: MAX_BATCH records in one round trip */
    if (tid < n * 4 && !L.loaded)
      ((uint4 *) &L.req[tid >> 2])[tid & 3] =
          ld_relaxed_sys_v4 ((const uint4 *) &in_slots[(tail + (tid >> 2)) & mask] + (tid & 3));
    __syncthreads ();
    /* which records are small, and which of those have their payload in the arena, all at once (a
     * loop over them costs some 200 cycles a record) */
    if (tid < MAX_BATCH) {
      const bool s = tid < n && small_record (a, L.req[tid]);
      const uint32_t b = __ballot_sync (~0u, s);
      const uint32_t in_arena = __ballot_sync (~0u, s && !(L.req[tid].flags & RK_REC_F_INLINE));
      if ((tid & 31) == 0) {
        L.small[tid >> 5] = b;
        L.in_arena[tid >> 5] = in_arena;
      }
    }
    __syncthreads ();
    const uint64_t small = L.small[0] | (uint64_t) L.small[1] << 32;
    const uint64_t in_arena = L.in_arena[0] | (uint64_t) L.in_arena[1] << 32;

    /* in record order: runs of small stateless records a few threads each, anything else block-wide */
    uint32_t r = 0, served = n;
    while (r < n) {
      if ((small >> r) & 1) {
        const uint64_t rest = ~(small >> r); /* the run ends at its first 0 */
        const uint32_t e = rest ? min (n, r + __ffsll ((long long) rest) - 1) : n;
        const uint64_t run = (e - r == 64 ? ~0ull : (1ull << (e - r)) - 1) << r;
        if (in_arena & run) {
          gather (a, L, r, e);
        } else { /* payloads inline only: nothing to gather */
          if (tid == 0)
            L.stage_mask = 0;
          __syncthreads ();
        }
        for (uint32_t i = r + tid / SMALL_LANES; i < e; i += blockDim.x / SMALL_LANES)
          serve_small (a, L, L.req[i], L.ans[i],
              (L.stage_mask >> (i - r)) & 1 ? (const uint8_t *) &L.stage[L.stage_at[i - r]] : nullptr,
              nullptr, tid % SMALL_LANES, SMALL_LANES);
        __syncthreads ();
        finish_run (a, L, r, e);
        r = e;
      } else {
        serve (a, L, L.req[r], L.ans[r], grid);
        r++;
        if (L.stop) {
          served = r; /* nothing after TERMINATE is served */
          break;
        }
      }
    }

    if (tid == 0)
      wait_k2h_room (k2h, k2h_entries, k2h_head, served, &k2h_tail);
    __syncthreads ();
    if (tid < served * 4)
      st_relaxed_sys_v4 ((uint4 *) &out_slots[(k2h_head + (tid >> 2)) & mask] + (tid & 3),
          ((const uint4 *) &L.ans[tid >> 2])[tid & 3]);
    __syncthreads ();
    k2h_head += served;
    tail += served;
    if (tid == 0)
      publish_answers (a, L, k2h_head, tail, served);
    __syncthreads ();
  }

  if (tid == 0) {
    *(volatile uint32_t *) &a.sh->stop = 1;
    __threadfence ();
    set_state (a.ctl, RK_STATE_TERMINATED);
  }
}

extern "C" __global__ void __launch_bounds__ (RK_CUDA_BLOCK)
rk_actor_kernel (rk_cuda_args a)
{
  if (blockIdx.x == 0)
    leader_loop (a, gridDim.x);
  else
    worker_loop (a, gridDim.x);
}

/* ---- the traditional path: one launch per record ---- */

extern "C" __global__ void __launch_bounds__ (RK_CUDA_BLOCK)
rk_once_kernel (rk_once_args o)
{
  Work w;
  w.op = o.kernel_id;
  w.in_mapped = 0;
  w.in = (const uint8_t *) o.in;
  w.out = (uint8_t *) o.out;
  w.len = o.len;
  w.a = o.params[0];
  w.b = o.params[1];
  w.p = o.params;
  w.inv = o.inv;
  w.sum = o.state && o.kernel_id == RK_KERNEL_ACCUMULATE ? ((rk_accumulate_state *) o.state)->sum : nullptr;
  if (o.kernel_id >= WORK_WAVE_STEP) {
    w.a = o.a;
    w.b = o.b;
    w.imp = o.imp;
  }
  uint32_t i0 = blockIdx.x * blockDim.x + threadIdx.x, stride = gridDim.x * blockDim.x;
  if (o.kernel_id >= RK_CUDA_ONCE_SPEC_FFT && o.kernel_id <= RK_CUDA_ONCE_SPEC_RING) {
    rk_spectrum_state *s = (rk_spectrum_state *) o.state;
    const uint8_t *cmd = (const uint8_t *) o.in;
    if (o.kernel_id == RK_CUDA_ONCE_SPEC_FFT) {
      const uint32_t C = s->channels;
      for (uint32_t t = blockIdx.x; t < (o.spec.j1 - o.spec.j0) * C; t += gridDim.x)
        spec_fft (s, cmd, (const uint32_t *) (uintptr_t) o.spec.fft_idx, o.spec.j0 + t / C, o.spec.j0,
            t % C, spec_smem);
    } else if (o.kernel_id == RK_CUDA_ONCE_SPEC_SUM) {
      uint32_t nf = o.spec.nf, ends = o.spec.ends;
      spec_sums (s, cmd, o.spec, (uint8_t *) o.out, i0, stride, nf, ends);
    } else {
      spec_ring (s, cmd, i0, stride);
    }
    return;
  }
  if (o.kernel_id == WORK_WAVE_STEP) {
    wave_step_rows (w, blockIdx.x, gridDim.x);
    return;
  }
  if (o.kernel_id == RK_KERNEL_ACCUMULATE) {
    rk_accumulate_state *acc = (rk_accumulate_state *) o.state;
    if (o.reset)
      for (uint32_t i = i0; i < o.len / 4; i += stride)
        acc->sum[i] = 0.0; /* each thread clears exactly the elements it then adds to */
    if (i0 == 0) {
      acc->samples = o.len / 4;
      acc->count = o.reset ? 1 : acc->count + 1;
    }
  }
  run_slice (w, i0, stride);
}

__global__ void
rk_init_state_kernel (uint32_t op, void *state)
{
  if (op == RK_KERNEL_ACCUMULATE) {
    rk_accumulate_state *acc = (rk_accumulate_state *) state;
    acc->count = 0;
    acc->samples = 0;
  }
}

/* ---- C entry points (the build's own kernels; a run-time compiled program has only the kernel) ---- */
#ifndef __CUDACC_RTC__

extern "C" int
rk_cuda_preload (void)
{
  cudaFuncAttributes attr;
  cudaError_t e = cudaFuncGetAttributes (&attr, rk_actor_kernel);
  if (e == cudaSuccess)
    e = cudaFuncGetAttributes (&attr, (const void *) rk_once_kernel);
  if (e == cudaSuccess)
    e = cudaFuncGetAttributes (&attr, rk_init_state_kernel);
  return (int) e;
}

extern "C" int
rk_cuda_allow_smem (size_t smem)
{
  cudaError_t e = cudaFuncSetAttribute (rk_actor_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
      (int) smem);
  if (e == cudaSuccess)
    e = cudaFuncSetAttribute ((const void *) rk_once_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
        (int) smem);
  return (int) e;
}

extern "C" int
rk_cuda_blocks_per_sm (const void *kernel, int *n, size_t smem)
{
  return (int) cudaOccupancyMaxActiveBlocksPerMultiprocessor (n, kernel, RK_CUDA_BLOCK, smem);
}

extern "C" int
rk_cuda_actor_static_smem (size_t *bytes)
{
  cudaFuncAttributes attr;
  cudaError_t e = cudaFuncGetAttributes (&attr, rk_actor_kernel);
  *bytes = e == cudaSuccess ? attr.sharedSizeBytes : 0;
  return (int) e;
}

extern "C" const void *
rk_cuda_builtin_actor_kernel (void)
{
  return (const void *) rk_actor_kernel;
}

extern "C" const void *
rk_cuda_builtin_once_kernel (void)
{
  return (const void *) rk_once_kernel;
}

extern "C" int
rk_cuda_launch_actor (const void *kernel, const rk_cuda_args *args, int grid, size_t smem, void *stream)
{
  rk_cuda_args a = *args;
  void *params[] = { &a };
  cudaLaunchConfig_t cfg = {};
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeCooperative; /* every block resident at once, or no launch */
  attr[0].val.cooperative = 1;
  cfg.gridDim = dim3 (grid);
  cfg.blockDim = dim3 (RK_CUDA_BLOCK);
  cfg.dynamicSmemBytes = smem;
  cfg.stream = (cudaStream_t) stream;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  return (int) cudaLaunchKernelExC (&cfg, kernel, params);
}

extern "C" int
rk_cuda_launch_once (const void *kernel, const rk_once_args *args, int grid, size_t smem, void *stream)
{
  rk_once_args o = *args;
  void *params[] = { &o };
  return (int) cudaLaunchKernel (kernel, dim3 (grid), dim3 (RK_CUDA_BLOCK), params, smem,
      (cudaStream_t) stream);
}

extern "C" int
rk_cuda_init_state (uint32_t kernel_id, void *state, size_t size, const double *params, void *stream)
{
  if (kernel_id == RK_KERNEL_WAVE) {
    rk_wave_state head = {};
    head.width = (uint32_t) params[RK_WAVE_P_WIDTH];
    head.height = (uint32_t) params[RK_WAVE_P_HEIGHT];
    head.depth = (uint32_t) params[RK_WAVE_P_DEPTH];
    cudaError_t e = cudaMemsetAsync (state, 0, size, (cudaStream_t) stream);
    if (e == cudaSuccess)
      e = cudaMemcpyAsync (state, &head, sizeof head, cudaMemcpyHostToDevice, (cudaStream_t) stream);
    if (e == cudaSuccess)
      e = cudaStreamSynchronize ((cudaStream_t) stream); /* head is on this stack */
    return (int) e;
  }
  if (kernel_id == RK_KERNEL_SPECTRUM) {
    /* the header and tables as the C reference builds them (twiddles included: the same bits) */
    rk_spectrum_state head;
    if (!rk_spectrum_layout (params, &head) || head.size > size)
      return (int) cudaErrorInvalidValue;
    void *tmp = malloc (head.values_off);
    if (!tmp)
      return (int) cudaErrorMemoryAllocation;
    rk_handler_by_id (RK_KERNEL_SPECTRUM)->init (tmp, params);
    cudaError_t e = cudaMemcpyAsync (state, tmp, head.values_off, cudaMemcpyHostToDevice,
        (cudaStream_t) stream);
    if (e == cudaSuccess)
      e = cudaStreamSynchronize ((cudaStream_t) stream);
    free (tmp);
    return (int) e;
  }
  rk_init_state_kernel<<<1, 1, 0, (cudaStream_t) stream>>> (kernel_id, state);
  return (int) cudaGetLastError ();
}

__global__ void
rk_copy_kernel (const float4 *__restrict__ in, float4 *__restrict__ out, size_t n)
{
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n; i += (size_t) gridDim.x * blockDim.x)
    out[i] = in[i];
}

extern "C" int
rk_cuda_copy_bandwidth (int device_id, size_t bytes, double *gbps)
{
  float4 *a = nullptr, *b = nullptr;
  cudaEvent_t t0, t1;
  int sms = 0;
  cudaError_t e = cudaSetDevice (device_id);
  if (e == cudaSuccess)
    e = cudaDeviceGetAttribute (&sms, cudaDevAttrMultiProcessorCount, device_id);
  if (e == cudaSuccess)
    e = cudaMalloc (&a, bytes);
  if (e == cudaSuccess)
    e = cudaMalloc (&b, bytes);
  if (e != cudaSuccess) {
    cudaFree (a);
    return (int) e;
  }
  cudaMemset (a, 0, bytes);
  cudaEventCreate (&t0);
  cudaEventCreate (&t1);
  const size_t n = bytes / sizeof (float4);
  const int reps = 20;
  float best = 1e30f;
  for (int r = 0; r < reps; r++) {
    float ms = 0;
    cudaEventRecord (t0);
    rk_copy_kernel<<<sms * 8, 256>>> (a, b, n);
    cudaEventRecord (t1);
    cudaEventSynchronize (t1);
    cudaEventElapsedTime (&ms, t0, t1);
    if (r > 0 && ms < best) /* the first is a warm-up */
      best = ms;
  }
  e = cudaGetLastError ();
  *gbps = 2.0 * (double) n * sizeof (float4) / (best * 1e-3) / 1e9;
  cudaEventDestroy (t0);
  cudaEventDestroy (t1);
  cudaFree (a);
  cudaFree (b);
  return (int) e;
}

/* ---- the ABI as device code lays it out (compared with the host's by tests/gpu) ---- */

#define RK_LAYOUT_VALUE(v) (uint64_t) (v),
__global__ void
rk_abi_layout_kernel (uint64_t *out)
{
  const uint64_t values[] = { RK_ABI_LAYOUT (RK_LAYOUT_VALUE) };
  for (unsigned i = 0; i < sizeof values / sizeof values[0]; i++)
    out[i] = values[i];
}

extern "C" int
rk_cuda_abi_layout (uint64_t *host_out, int n)
{
  uint64_t *d = nullptr;
  const uint64_t values[] = { RK_ABI_LAYOUT (RK_LAYOUT_VALUE) };
  int count = (int) (sizeof values / sizeof values[0]);
  if (n < count)
    return -1;
  if (cudaMalloc (&d, sizeof values) != cudaSuccess)
    return -1;
  rk_abi_layout_kernel<<<1, 1>>> (d);
  cudaError_t e = cudaMemcpy (host_out, d, sizeof values, cudaMemcpyDeviceToHost);
  cudaFree (d);
  return e == cudaSuccess ? count : -1;
}
#endif /* __CUDACC_RTC__ */
