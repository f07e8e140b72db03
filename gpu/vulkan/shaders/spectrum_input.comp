#version 450
#include "rk_float_mode.glsl"
// The batch's FFT inputs: for FFT j of the command (its event in the state's index area) and channel c,
// the nfft frames up to the event (the older ones from the ring), windowed, read as M complex values
// (core/rk_spectrum.c, spectrum_process () and rk_ref_spectrum_fft ()). Into work area b.
#include "rk_spectrum.glsl"

void main () {
  const uint nfft = s_nfft (), M = s_half (), C = s_channels (), n_all = pc.nb * C * M;
  const uint ring = area (H_RING), win = area (H_WINDOW), index = area (H_INDEX);
  for (uint i = gl_GlobalInvocationID.x; i < n_all; i += stride_all ()) {
    const uint fc = i / M, n = i % M, c = fc % C;
    const int first = int (ev_at (st.w[index + pc.j0 + fc / C])) - int (nfft);
    float v[2];
    for (uint q = 0u; q < 2u; q++) {
      const int f = first + int (2u * n + q);
      const float x = f < 0 ? uintBitsToFloat (st.w[ring + c * nfft + uint (int (pc.pos + nfft) + f) % nfft])
                            : input_at (uint (f), c);
      precise double wx = double (x) * ld_double (win + 2u * (2u * n + q));
      v[q] = float (wx);
    }
    st_cf (pc.b_word, i, vec2 (v[0], v[1]));
  }
}
