/* gst-ringkernel: the audio spectrum behind rkspectrum (handler "spectrum").
 *
 * The analysis is that of GStreamer's `spectrum` element: audio is read into a window of
 * nfft = 2 * bands - 2 frames per analysed channel (all channels averaged into one unless each is
 * analysed), a Hamming window is applied, a real FFT gives `bands` bins, and each bin's magnitude in dB
 * (clamped below at the threshold) and phase are summed over the FFTs of an interval and averaged at its
 * end.
 *
 * Who decides what: the host plans, the actor computes. When FFTs run and where intervals end is a
 * matter of counting frames against the interval (rk_spectrum_planner, below, on the host); the host
 * sends the audio with that plan as a list of events. The window of the last nfft frames, the FFT and
 * the sums over an interval live in the actor, across buffers.
 *
 * The FFT: the nfft real samples are read as M = nfft / 2 complex ones, transformed by a mixed-radix
 * Stockham FFT (any factors; a prime factor p costs M * p per stage), and split into the real signal's
 * bins. Every output element of a stage, and every bin, is an inline function that C and CUDA share
 * (the Vulkan shaders, gpu/vulkan/shaders/rk_spectrum.glsl, write the same operations out), with every
 * rounding written out (core/rk_float.h) and twiddles from one table built on the host: the backends
 * compute the same FFT bits. Only log10 and atan2 differ: C and CUDA take them from their maths
 * libraries, the shaders compute them in double precision from series.
 */
#ifndef RK_SPECTRUM_H
#define RK_SPECTRUM_H

#include <stddef.h>
#include <stdint.h>

#include "rk_abi.h"
#include "rk_float.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parameters of the spectrum handler, both fixed once the actor runs. */
enum rk_spectrum_param {
  RK_SPECTRUM_P_BANDS = 0,    /* bins per spectrum; nfft = 2 * bands - 2 */
  RK_SPECTRUM_P_CHANNELS = 1, /* channels analysed: 1 when the audio's channels are averaged */
  RK_SPECTRUM_N_PARAMS
};
#define RK_SPECTRUM_FIXED_PARAMS ((1u << RK_SPECTRUM_P_BANDS) | (1u << RK_SPECTRUM_P_CHANNELS))

#define RK_SPECTRUM_MAX_BANDS (1u << 20)
#define RK_SPECTRUM_MAX_CHANNELS 256u
#define RK_SPECTRUM_MAX_STATE (1ull << 30)
#define RK_SPECTRUM_MAX_FACTORS 24u
/* One command carries at most this many events and this many bytes (the host splits longer buffers). */
#define RK_SPECTRUM_MAX_EVENTS 4096u
#define RK_SPECTRUM_MAX_COMMAND (2u << 20)

/* Sample formats: interleaved, little-endian, as audio/x-raw's S16LE .. F64LE. */
enum rk_spectrum_format {
  RK_SPECTRUM_S16 = 1,
  RK_SPECTRUM_S24 = 2, /* three bytes per sample */
  RK_SPECTRUM_S32 = 3,
  RK_SPECTRUM_F32 = 4,
  RK_SPECTRUM_F64 = 5,
  RK_SPECTRUM_FMT_COUNT_
};

enum rk_spectrum_flags {
  RK_SPECTRUM_F_MAGNITUDE = 1u << 0, /* sum and answer magnitudes */
  RK_SPECTRUM_F_PHASE = 1u << 1,     /* sum and answer phases */
  RK_SPECTRUM_F_MIX = 1u << 2,       /* average the audio's channels into the one analysed */
  RK_SPECTRUM_F_RESTART = 1u << 3,   /* drop the sums of the interval so far first (a discontinuity) */
  RK_SPECTRUM_F_ALL_ = 0xf
};

enum rk_spectrum_event_kind {
  RK_SPECTRUM_EV_FFT = 1u << 0, /* an FFT of the nfft frames up to here, summed into the interval */
  RK_SPECTRUM_EV_END = 1u << 1, /* the interval ends here (after this event's FFT, if any): answer its
                                 * averages and start the next */
};

/* The payload of a PROCESS record to the spectrum actor: this header, n_events events, then from
 * data_off the samples (frames * channels of them). */
typedef struct rk_spectrum_cmd {
  uint32_t op;       /* RK_SPECTRUM_ANALYSE */
  uint32_t format;   /* enum rk_spectrum_format */
  uint32_t channels; /* of the audio: equal to the actor's channels, or any with RK_SPECTRUM_F_MIX */
  uint32_t frames;
  uint32_t n_events;
  uint32_t flags;    /* enum rk_spectrum_flags */
  int32_t threshold; /* dB: lower magnitudes are answered as this */
  uint32_t data_off; /* a multiple of 8, after the events */
} rk_spectrum_cmd;
#define RK_SPECTRUM_ANALYSE 0x43455053u /* "SPEC" */

typedef struct rk_spectrum_event {
  uint32_t at;   /* frames of this command read before it, 0 .. frames; never decreasing */
  uint32_t kind; /* enum rk_spectrum_event_kind, not 0 */
} rk_spectrum_event;

RK_STATIC_ASSERT (sizeof (rk_spectrum_cmd) == 32, "rk_spectrum_cmd is 32 bytes");
RK_STATIC_ASSERT (sizeof (rk_spectrum_event) == 8, "rk_spectrum_event is 8 bytes");

/* The answer: for each END event in order, the magnitudes [channels][bands] (with
 * RK_SPECTRUM_F_MAGNITUDE), then the phases [channels][bands] (with RK_SPECTRUM_F_PHASE), float32. */

typedef struct rk_cf {
  float re, im;
} rk_cf;

/* The actor's state: this header, then the areas at its offsets (each a multiple of RK_ARENA_ALIGN from
 * the start of the state). */
typedef struct rk_spectrum_state {
  uint32_t bands, nfft, half, channels; /* half = M = nfft / 2 */
  uint32_t pos;     /* the ring's oldest frame */
  uint32_t num_fft; /* FFTs summed in the interval so far */
  uint32_t n_factors;
  uint32_t batch; /* FFTs whose terms fit in the values area */
  uint32_t factors[RK_SPECTRUM_MAX_FACTORS]; /* M's radices, in stage order */
  uint64_t window_off;  /* double[nfft]: the Hamming window */
  uint64_t twiddle_off; /* rk_cf[nfft]: exp(-2 pi i k / nfft) */
  uint64_t ring_off;    /* float[channels][nfft]: the last nfft frames, oldest at pos */
  uint64_t mag_off;     /* float[channels][bands]: magnitude sums of the interval */
  uint64_t phase_off;   /* float[channels][bands]: phase sums */
  uint64_t work_off;    /* the C reference's: rk_cf[2][M] FFT buffers, float[nfft], rk_cf[bands] */
  uint64_t values_off;  /* double[batch][channels][2][bands]: data-parallel backends' per-FFT terms */
  uint64_t command_off; /* RK_SPECTRUM_MAX_COMMAND bytes: data-parallel backends' copy of a command */
  uint64_t index_off;   /* uint32[RK_SPECTRUM_MAX_EVENTS]: theirs, the event of each FFT */
  uint64_t size;        /* of the whole state */
} rk_spectrum_state;
#define RK_SPECTRUM_DATA_OFF 256u
RK_STATIC_ASSERT (sizeof (rk_spectrum_state) <= RK_SPECTRUM_DATA_OFF, "the header fits its line");

/* ---- what C and device code share ---- */

#define RK_SPECTRUM_FN RK_FLOAT_FN

RK_SPECTRUM_FN uint32_t
rk_spectrum_bps (uint32_t format)
{
  switch (format) {
    case RK_SPECTRUM_S16: return 2;
    case RK_SPECTRUM_S24: return 3;
    case RK_SPECTRUM_S32:
    case RK_SPECTRUM_F32: return 4;
    case RK_SPECTRUM_F64: return 8;
    default: return 0;
  }
}

/* A sample's bits as loaded (little-endian, zero-extended to 64 bits), read as `spectrum` reads it:
 * integers over their largest positive value, floats as they are. */
RK_SPECTRUM_FN float
rk_spectrum_sample (uint32_t format, uint64_t raw)
{
  switch (format) {
    case RK_SPECTRUM_S16: return rk_fdiv ((float) (int16_t) (uint16_t) raw, 32767.0f);
    case RK_SPECTRUM_S24: {
      int32_t v = (int32_t) (raw & 0xffffffu);
      if (v & 0x800000)
        v -= 0x1000000;
      return rk_fdiv ((float) v, 8388607.0f);
    }
    case RK_SPECTRUM_S32: return rk_fdiv ((float) (int32_t) (uint32_t) raw, 2147483647.0f);
    case RK_SPECTRUM_F32: {
      union { uint32_t u; float f; } c;
      c.u = (uint32_t) raw;
      return c.f;
    }
    default: {
      union { uint64_t u; double d; } c;
      c.u = raw;
      return (float) c.d;
    }
  }
}

/* Channel averaging as `spectrum` does it: v = first; v += each next; v / channels. Doubles are added
 * in double precision and rounded to float each time. */
RK_SPECTRUM_FN float
rk_spectrum_mix_add (uint32_t format, float v, uint64_t raw)
{
  if (format == RK_SPECTRUM_F64) {
    union { uint64_t u; double d; } c;
    c.u = raw;
    return (float) rk_dadd ((double) v, c.d);
  }
  return rk_fadd (v, rk_spectrum_sample (format, raw));
}

/* Load one sample's bits from plain memory. */
RK_SPECTRUM_FN uint64_t
rk_spectrum_load (const uint8_t *p, uint32_t bps)
{
  uint64_t v = 0;
  for (uint32_t i = 0; i < bps; i++)
    v |= (uint64_t) p[i] << (8 * i);
  return v;
}

/* The analysed value of frame f, channel c (of the actor) in a command's samples. */
RK_SPECTRUM_FN float
rk_spectrum_input (const uint8_t *data, uint32_t format, uint32_t channels, int mix, uint32_t f,
    uint32_t c)
{
  const uint32_t bps = rk_spectrum_bps (format);
  const uint8_t *frame = data + (size_t) f * channels * bps;
  if (!mix)
    return rk_spectrum_sample (format, rk_spectrum_load (frame + (size_t) c * bps, bps));
  float v = rk_spectrum_sample (format, rk_spectrum_load (frame, bps));
  for (uint32_t i = 1; i < channels; i++)
    v = rk_spectrum_mix_add (format, v, rk_spectrum_load (frame + (size_t) i * bps, bps));
  return rk_fdiv (v, (float) channels);
}

/* A sample times the window, rounded to float as `spectrum` (float *= double). */
RK_SPECTRUM_FN float
rk_spectrum_windowed (float x, double w)
{
  return (float) rk_dmul ((double) x, w);
}

RK_SPECTRUM_FN rk_cf
rk_cf_mul (rk_cf a, rk_cf b)
{
  rk_cf r;
  r.re = rk_fsub (rk_fmul (a.re, b.re), rk_fmul (a.im, b.im));
  r.im = rk_fadd (rk_fmul (a.re, b.im), rk_fmul (a.im, b.re));
  return r;
}

/* Output o of the Stockham stage of radix R after Ns points of each sub-transform are done (Ns * R
 * divides M): out[o] = sum over r of in[j + r * M / R] * W^(r * m), W = exp(-2 pi i / (Ns R)), with
 * m = o mod (Ns R) and j = (o / (Ns R)) * Ns + o mod Ns. tw is the nfft-entry table (nfft = 2 M). */
RK_SPECTRUM_FN rk_cf
rk_fft_stage_out (const rk_cf *in, const rk_cf *tw, uint32_t M, uint32_t R, uint32_t Ns, uint32_t o)
{
  const uint32_t span = Ns * R, T = M / R, step = 2 * M / span;
  const uint32_t m = o % span, j = (o / span) * Ns + o % Ns;
  rk_cf acc = in[j];
  uint32_t e = 0; /* r * m mod span */
  for (uint32_t r = 1; r < R; r++) {
    e += m;
    if (e >= span)
      e -= span;
    const rk_cf t = rk_cf_mul (in[j + r * T], tw[e * step]);
    acc.re = rk_fadd (acc.re, t.re);
    acc.im = rk_fadd (acc.im, t.im);
  }
  return acc;
}

/* Bin k (0 .. M) of the real signal whose samples 2n, 2n + 1 are Z's input n, from Z = its M-point
 * FFT. */
RK_SPECTRUM_FN rk_cf
rk_fft_real_bin (const rk_cf *Z, const rk_cf *tw, uint32_t M, uint32_t k)
{
  rk_cf x;
  if (k == 0 || k == M) {
    x.re = k == 0 ? rk_fadd (Z[0].re, Z[0].im) : rk_fsub (Z[0].re, Z[0].im);
    x.im = 0.0f;
    return x;
  }
  const rk_cf a = Z[k], b = Z[M - k]; /* the even part uses conj (b) */
  /* even = (a + conj b) / 2, odd = (a - conj b) / 2i */
  rk_cf ev, od;
  ev.re = rk_fmul (rk_fadd (a.re, b.re), 0.5f);
  ev.im = rk_fmul (rk_fsub (a.im, b.im), 0.5f);
  od.re = rk_fmul (rk_fadd (a.im, b.im), 0.5f);
  od.im = rk_fmul (rk_fsub (b.re, a.re), 0.5f);
  const rk_cf t = rk_cf_mul (od, tw[k]);
  x.re = rk_fadd (ev.re, t.re);
  x.im = rk_fadd (ev.im, t.im);
  return x;
}

/* The power of a bin over nfft^2 as `spectrum` forms it before its log10: squares in float, their sum
 * and the division in double. */
RK_SPECTRUM_FN double
rk_spectrum_power (rk_cf x, uint32_t nfft)
{
  const double p = rk_dadd ((double) rk_fmul (x.re, x.re), (double) rk_fmul (x.im, x.im));
  return rk_ddiv (p, (double) ((uint64_t) nfft * nfft));
}

/* Add a double term to a float sum, rounded to float (`spectrum`'s float += double). */
RK_SPECTRUM_FN float
rk_spectrum_sum (float s, double term)
{
  return (float) rk_dadd ((double) s, term);
}

/* Check a command: its length, header and events against the actor's shape and answer room. Returns an
 * enum rk_status and the answer's length. Shared by every backend. */
RK_SPECTRUM_FN uint32_t
rk_spectrum_check (const rk_spectrum_cmd *c, const rk_spectrum_event *ev, uint32_t len,
    uint32_t bands, uint32_t channels, uint32_t out_cap, uint32_t *out_len)
{
  if (len < sizeof *c || c->op != RK_SPECTRUM_ANALYSE || (c->flags & ~(uint32_t) RK_SPECTRUM_F_ALL_))
    return RK_STATUS_INVALID;
  const uint32_t bps = rk_spectrum_bps (c->format);
  if (!bps || c->channels == 0 || c->channels > RK_SPECTRUM_MAX_CHANNELS
      || ((c->flags & RK_SPECTRUM_F_MIX) ? channels != 1 : c->channels != channels))
    return RK_STATUS_INVALID;
  if (c->n_events > RK_SPECTRUM_MAX_EVENTS || len > RK_SPECTRUM_MAX_COMMAND || c->data_off % 8
      || c->data_off < sizeof *c + (uint64_t) c->n_events * sizeof *ev
      || (uint64_t) c->data_off + (uint64_t) c->frames * c->channels * bps != len)
    return RK_STATUS_INVALID;
  uint32_t ends = 0, at = 0;
  if (ev) {
    for (uint32_t i = 0; i < c->n_events; i++) {
      if (ev[i].at < at || ev[i].at > c->frames || ev[i].kind == 0
          || (ev[i].kind & ~(uint32_t) (RK_SPECTRUM_EV_FFT | RK_SPECTRUM_EV_END)))
        return RK_STATUS_INVALID;
      at = ev[i].at;
      ends += (ev[i].kind & RK_SPECTRUM_EV_END) != 0;
    }
  }
  const uint32_t per = ((c->flags & RK_SPECTRUM_F_MAGNITUDE) != 0) + ((c->flags & RK_SPECTRUM_F_PHASE) != 0);
  const uint64_t n = (uint64_t) ends * per * channels * bands * sizeof (float);
  if (n > out_cap)
    return RK_STATUS_TOO_LARGE;
  *out_len = (uint32_t) n;
  return RK_STATUS_OK;
}

/* Read a command of len bytes at in on the host: its header into *c, its events at *ev (in place), then
 * rk_spectrum_check () against the actor's shape and answer room. Returns an enum rk_status and the
 * answer's length. */
uint32_t rk_spectrum_read (const uint8_t *in, uint32_t len, uint32_t bands, uint32_t channels,
    uint32_t out_cap, rk_spectrum_cmd *c, const rk_spectrum_event **ev, uint32_t *out_len);

/* ---- the host's plan (what `spectrum` counts) ---- */

typedef struct rk_spectrum_planner {
  uint32_t nfft;
  uint64_t frames_per_interval;
  uint64_t error_per_interval; /* ns */
  uint64_t accumulated_error;  /* ns */
  uint64_t frames_todo;        /* frames of the interval under way */
  uint64_t num_frames;         /* of it, read so far */
  uint32_t num_fft;            /* FFTs in it so far */
} rk_spectrum_planner;

/* Start a plan for bands bins, an interval of interval_ns and rate frames per second. */
void rk_spectrum_planner_init (rk_spectrum_planner *p, uint32_t bands, uint64_t interval_ns,
    uint32_t rate);
/* A discontinuity: the interval under way starts again (the actor is told RK_SPECTRUM_F_RESTART). */
void rk_spectrum_planner_flush (rk_spectrum_planner *p);
/* Plan up to `frames` frames: fills at most `cap` events (at counted from this call's first frame) and
 * returns the frames planned, fewer than `frames` when the events ran out; *n_events gets their
 * number. interval_frames, when not NULL (room for cap), gets at [i] the frame count of the interval
 * that event i ends, for each END event. */
uint32_t rk_spectrum_plan (rk_spectrum_planner *p, uint32_t frames, rk_spectrum_event *events,
    uint32_t cap, uint32_t *n_events, uint64_t *interval_frames);

/* ---- C reference ---- */

/* Bytes of state for these parameters, or 0 when out of range. */
size_t rk_spectrum_state_size (const double *params);
/* The state's header (its layout) for these parameters, as init () writes it. Returns 0 when they are
 * out of range. Everything before values_off is what init () sets. */
int rk_spectrum_layout (const double *params, rk_spectrum_state *head);
/* Fill M's radices (4 first, then 2, 3, 5, 7 and any other primes). Returns their number, or 0 when
 * there would be more than RK_SPECTRUM_MAX_FACTORS. */
uint32_t rk_spectrum_factor (uint32_t M, uint32_t *factors);
/* Bins of one windowed frame of nfft samples: the real FFT of x into bins[0 .. nfft / 2], with the
 * state's tables and work area. */
void rk_ref_spectrum_fft (rk_spectrum_state *s, const float *x, rk_cf *bins);
/* Bytes a command needs, for frames of audio and n events. */
uint32_t rk_spectrum_command_size (uint32_t format, uint32_t channels, uint32_t frames,
    uint32_t n_events);
/* Write a command into buf (rk_spectrum_command_size () bytes): the header's format, channels, frames,
 * flags and threshold from *head, the events, and the frames of interleaved samples. Returns its
 * length. */
uint32_t rk_spectrum_command_write (uint8_t *buf, const rk_spectrum_cmd *head,
    const rk_spectrum_event *events, uint32_t n_events, const void *samples);

#ifdef __cplusplus
}
#endif

#endif /* RK_SPECTRUM_H */
