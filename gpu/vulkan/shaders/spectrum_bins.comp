#version 450
#include "rk_float_mode.glsl"
// The terms of every bin of the batch's FFTs, from their transforms in work area a, into the values
// area: the magnitude in dB (clamped below at the threshold) and the phase, as doubles
// (core/rk_spectrum.h, rk_fft_real_bin () and rk_spectrum_power (); core/rk_spectrum.c).
#include "rk_spectrum.glsl"

vec2 real_bin (uint z, uint M, uint k, uint tw) {
  if (k == 0u || k == M) {
    const vec2 z0 = ld_cf (z, 0u);
    precise float re = k == 0u ? z0.x + z0.y : z0.x - z0.y;
    return vec2 (re, 0.0);
  }
  const vec2 a = ld_cf (z, k), b = ld_cf (z, M - k);
  precise float ev_re = (a.x + b.x) * 0.5;
  precise float ev_im = (a.y - b.y) * 0.5;
  precise float od_re = (a.y + b.y) * 0.5;
  precise float od_im = (b.x - a.x) * 0.5;
  const vec2 t = cf_mul (vec2 (od_re, od_im), ld_cf (tw, k));
  precise float re = ev_re + t.x;
  precise float im = ev_im + t.y;
  return vec2 (re, im);
}

void main () {
  const uint B = s_bands (), C = s_channels (), M = s_half (), nfft = s_nfft ();
  const uint n_all = pc.nb * C * B, tw = area (H_TWIDDLE), values = area (H_VALUES);
  const uint flags = c_flags ();
  const double nn = double (nfft) * double (nfft);
  for (uint i = gl_GlobalInvocationID.x; i < n_all; i += stride_all ()) {
    const uint fc = i / B, k = i % B;
    const vec2 X = real_bin (pc.a_word + 2u * fc * M, M, k, tw);
    const uint v = values + 2u * (fc * 2u * B + k);
    if ((flags & F_MAGNITUDE) != 0u) {
      precise float rr = X.x * X.x;
      precise float ii = X.y * X.y;
      precise double p = (double (rr) + double (ii)) / nn;
      // as C's 10 log10 (p), then the clamp: 0 gives -inf (clamped), +inf and NaN pass as they are
      const double th = double (c_threshold ());
      double db = th;
      if ((unpackDouble2x32 (p).y & 0x7ff00000u) == 0x7ff00000u) {
        db = p;
      } else if (p > 0.0lf) {
        precise double d = 10.0lf * log10_d (p);
        db = d < th ? th : d;
      }
      st_double (v, db);
    }
    if ((flags & F_PHASE) != 0u)
      st_double (v + 2u * B, atan2_d (X.y, X.x));
  }
}
