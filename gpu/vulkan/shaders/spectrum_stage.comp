#version 450
#include "rk_float_mode.glsl"
// One Stockham stage of radix R over every FFT of the batch, from work area a to b
// (core/rk_spectrum.h, rk_fft_stage_out ()).
#include "rk_spectrum.glsl"

void main () {
  const uint M = s_half (), n_all = pc.nb * s_channels () * M, tw = area (H_TWIDDLE);
  const uint span = pc.Ns * pc.R, T = M / pc.R, step = 2u * M / span;
  for (uint i = gl_GlobalInvocationID.x; i < n_all; i += stride_all ()) {
    const uint base = i - i % M, o = i % M;
    const uint m = o % span, j = base + (o / span) * pc.Ns + o % pc.Ns;
    vec2 acc = ld_cf (pc.a_word, j);
    uint e = 0u; // r * m mod span
    for (uint r = 1u; r < pc.R; r++) {
      e += m;
      if (e >= span)
        e -= span;
      const vec2 t = cf_mul (ld_cf (pc.a_word, j + r * T), ld_cf (tw, e * step));
      precise float re = acc.x + t.x;
      precise float im = acc.y + t.y;
      acc = vec2 (re, im);
    }
    st_cf (pc.b_word, i, acc);
  }
}
