// gst-ringkernel: what the spectrum's shaders share (core/rk_spectrum.h; the host's side is
// gpu/vulkan/rk_vulkan.c, "the spectrum"). A command is planned on the host and recorded as dispatches:
// for each batch of FFTs, the windowed input, one Stockham stage per radix, the bins' terms and the
// sums in event order; then the window ring. Every float operation is core/rk_spectrum.h's, one IEEE
// operation each (precise: never fused), so the FFT has the reference's bits; log10 and atan2 are
// computed here in double precision from + - * / alone, not from the driver's functions (which Vulkan
// lets be as coarse as 4096 ulp in single precision, and offers no double log or atan at all).
#extension GL_ARB_gpu_shader_fp64 : enable

layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer In { uint w[]; } src;  // the command
layout(std430, binding = 1) writeonly buffer Out { uint w[]; } dst; // the answer
layout(std430, binding = 2) buffer State { uint w[]; } st;          // the actor's state

// gpu/vulkan/rk_vulkan.c, struct vk_spec_push, must match
layout(push_constant) uniform SpecPush {
  uint in_word;        // the command: its first word in src
  uint out_word;       // the answer: its first word in dst
  uint a_word, b_word; // FFT work areas (words of st): read from, written to
  uint j0, nb;         // the batch: its first FFT (counted in the command) and how many
  uint R, Ns;          // a stage: its radix, and the points of each sub-transform done
  uint e0, e1;         // sums: the batch's events
  uint nf, ends;       // sums: FFTs of the interval under way before e0, END events before e0
  uint restart;        // sums: start from zero, not from the state's sums
  uint pos;            // the ring's oldest frame
} pc;

uint stride_all () { return gl_NumWorkGroups.x * gl_WorkGroupSize.x; }

#include "rk_div.glsl"

// ---- the state: core/rk_spectrum.h, struct rk_spectrum_state (rk_vulkan.c asserts these offsets),
// then the areas it points at; offsets are bytes from the start, below 4 GiB ----
uint s_bands () { return st.w[0]; }
uint s_nfft () { return st.w[1]; }
uint s_half () { return st.w[2]; }
uint s_channels () { return st.w[3]; }
const uint H_WINDOW = 32u, H_TWIDDLE = 34u, H_RING = 36u, H_MAG = 38u, H_PHASE = 40u, H_VALUES = 44u,
    H_INDEX = 48u;
uint area (uint field) { return st.w[field] / 4u; } // in words

double ld_double (uint word) { return packDouble2x32 (uvec2 (st.w[word], st.w[word + 1u])); }
void st_double (uint word, double v) {
  const uvec2 b = unpackDouble2x32 (v);
  st.w[word] = b.x;
  st.w[word + 1u] = b.y;
}
vec2 ld_cf (uint word, uint i) { return uintBitsToFloat (uvec2 (st.w[word + 2u * i], st.w[word + 2u * i + 1u])); }
void st_cf (uint word, uint i, vec2 v) {
  st.w[word + 2u * i] = floatBitsToUint (v.x);
  st.w[word + 2u * i + 1u] = floatBitsToUint (v.y);
}

// ---- the command: struct rk_spectrum_cmd, its events, its samples ----
const uint F_MAGNITUDE = 1u, F_PHASE = 2u, F_MIX = 4u;
const uint EV_FFT = 1u, EV_END = 2u;
uint c_format () { return src.w[pc.in_word + 1u]; }
uint c_channels () { return src.w[pc.in_word + 2u]; }
uint c_frames () { return src.w[pc.in_word + 3u]; }
uint c_flags () { return src.w[pc.in_word + 5u]; }
int c_threshold () { return int (src.w[pc.in_word + 6u]); }
uint c_data_off () { return src.w[pc.in_word + 7u]; }
uint ev_at (uint e) { return src.w[pc.in_word + 8u + 2u * e]; }
uint ev_kind (uint e) { return src.w[pc.in_word + 9u + 2u * e]; }

uint bps_of (uint format) {
  return format == 1u ? 2u : format == 2u ? 3u : format == 5u ? 8u : 4u;
}

// the bits of the sample of bps bytes at byte b of the command, little-endian, as (low, high) words;
// the word after is read only when the sample reaches into it
uvec2 load_sample (uint b, uint bps) {
  const uint w0 = pc.in_word + b / 4u, sh = (b % 4u) * 8u;
  const uint lo = src.w[w0];
  const uint hi = sh + 8u * bps > 32u ? src.w[w0 + 1u] : 0u;
  if (bps == 8u)
    return uvec2 (lo, hi); // at a multiple of 8
  uint v = sh == 0u ? lo : (lo >> sh) | (hi << (32u - sh));
  if (bps < 4u)
    v &= (1u << (8u * bps)) - 1u;
  return uvec2 (v, 0u);
}

// rk_spectrum_sample ()
float sample_of (uint format, uvec2 raw) {
  if (format == 1u)
    return div_rn_signed (float (int (raw.x << 16) >> 16), 32767.0);
  if (format == 2u)
    return div_rn_signed (float (int (raw.x << 8) >> 8), 8388607.0);
  if (format == 3u)
    return div_rn_signed (float (int (raw.x)), 2147483647.0);
  if (format == 4u)
    return uintBitsToFloat (raw.x);
  return float (packDouble2x32 (raw));
}

// rk_spectrum_input (): frame f, channel c (of the actor) of the command's samples
float input_at (uint f, uint c) {
  const uint format = c_format (), ch = c_channels (), bps = bps_of (format);
  const uint frame = c_data_off () + f * ch * bps;
  if ((c_flags () & F_MIX) == 0u)
    return sample_of (format, load_sample (frame + c * bps, bps));
  float v = sample_of (format, load_sample (frame, bps));
  for (uint i = 1u; i < ch; i++) {
    const uvec2 raw = load_sample (frame + i * bps, bps);
    if (format == 5u) {
      precise double t = double (v) + packDouble2x32 (raw);
      v = float (t);
    } else {
      precise float t = v + sample_of (format, raw);
      v = t;
    }
  }
  return div_rn_signed (v, float (ch));
}

// rk_cf_mul ()
vec2 cf_mul (vec2 a, vec2 b) {
  precise float rr = a.x * b.x;
  precise float ii = a.y * b.y;
  precise float ri = a.x * b.y;
  precise float ir = a.y * b.x;
  precise float re = rr - ii;
  precise float im = ri + ir;
  return vec2 (re, im);
}

// ---- log10 and atan2 in double precision (a few ulp): series after reducing the argument ----
const double LN2_HI = 6.93147180369123816490e-01lf; // its low bits zero: e * LN2_HI is exact
const double LN2_LO = 1.90821492927058770002e-10lf;
const double INV_LN10 = 4.34294481903251827651e-01lf;
const double SQRT2 = 1.41421356237309504880lf;
const double SQRT3 = 1.73205080756887729353lf;
const double PI = 3.14159265358979323846lf;
const double PI_2 = 1.57079632679489661923lf;
const double PI_6 = 5.23598775598298873077e-01lf;
const double TAN_PI_12 = 2.67949192431122706473e-01lf;
// 1 / (2 i + 1), folded by the compiler
const double INV_ODD[15] = double[] (1.0lf, 1.0lf / 3.0lf, 1.0lf / 5.0lf, 1.0lf / 7.0lf, 1.0lf / 9.0lf,
    1.0lf / 11.0lf, 1.0lf / 13.0lf, 1.0lf / 15.0lf, 1.0lf / 17.0lf, 1.0lf / 19.0lf, 1.0lf / 21.0lf,
    1.0lf / 23.0lf, 1.0lf / 25.0lf, 1.0lf / 27.0lf, 1.0lf / 29.0lf);

// log10 (x) for a normal x > 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)], ln m = 2 atanh z with
// z = (m - 1) / (m + 1), |z| < 0.172, whose series has converged to double precision after z^23
double log10_d (double x) {
  uvec2 b = unpackDouble2x32 (x);
  int e = int ((b.y >> 20) & 0x7ffu) - 1023;
  b.y = (b.y & 0x000fffffu) | 0x3ff00000u;
  double m = packDouble2x32 (b);
  if (m > SQRT2) {
    m *= 0.5lf;
    e += 1;
  }
  precise double z = (m - 1.0lf) / (m + 1.0lf);
  precise double z2 = z * z;
  precise double s = INV_ODD[11];
  for (int i = 10; i >= 0; i--) {
    precise double t = s * z2 + INV_ODD[i];
    s = t;
  }
  precise double ln = double (e) * LN2_HI + (double (e) * LN2_LO + 2.0lf * z * s);
  precise double r = ln * INV_LN10;
  return r;
}

// atan (t) for t in [0, 1]: past tan (pi / 12), atan t = pi / 6 + atan ((t sqrt 3 - 1) / (sqrt 3 + t)),
// which leaves |t| <= tan (pi / 12), where the series has converged after t^29
double atan_d (double t) {
  double off = 0.0lf;
  if (t > TAN_PI_12) {
    precise double u = (t * SQRT3 - 1.0lf) / (SQRT3 + t);
    t = u;
    off = PI_6;
  }
  precise double t2 = t * t;
  precise double s = INV_ODD[14];
  for (int i = 13; i >= 0; i--) {
    precise double v = s * t2 + ((i & 1) != 0 ? -INV_ODD[i] : INV_ODD[i]);
    s = v;
  }
  precise double r = off + t * s;
  return r;
}

// a float's class from its bits (not from isnan (), which a driver may fold away)
bool f_nan (float v) { return (floatBitsToUint (v) & 0x7fffffffu) > 0x7f800000u; }
bool f_inf (float v) { return (floatBitsToUint (v) & 0x7fffffffu) == 0x7f800000u; }

// atan2 (y, x) as C's, signed zeros, infinities and NaN included
double atan2_d (float yf, float xf) {
  if (f_nan (yf) || f_nan (xf))
    return double (yf) + double (xf);
  const double ay = abs (double (yf)), ax = abs (double (xf));
  const bool ny = (floatBitsToUint (yf) >> 31) != 0u, nx = (floatBitsToUint (xf) >> 31) != 0u;
  double r;
  if (f_inf (yf) && f_inf (xf)) {
    r = nx ? 3.0lf * PI / 4.0lf : PI / 4.0lf;
  } else if (f_inf (xf)) {
    r = nx ? PI : 0.0lf;
  } else if (f_inf (yf)) {
    r = PI_2;
  } else if (ay == 0.0lf) {
    r = nx ? PI : 0.0lf;
  } else if (ax == 0.0lf) {
    r = PI_2;
  } else {
    const bool steep = ay > ax;
    r = atan_d (steep ? ax / ay : ay / ax);
    if (steep) {
      precise double q = PI_2 - r;
      r = q;
    }
    if (nx) {
      precise double q = PI - r;
      r = q;
    }
  }
  return ny ? -r : r;
}
