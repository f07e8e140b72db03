#version 450
#include "rk_float_mode.glsl"
// The window ring keeps the command's last nfft frames (core/rk_spectrum.c, spectrum_process ()).
#include "rk_spectrum.glsl"

void main () {
  const uint nfft = s_nfft (), frames = c_frames (), kept = min (frames, nfft), first = frames - kept;
  const uint ring = area (H_RING), n_all = s_channels () * kept;
  for (uint i = gl_GlobalInvocationID.x; i < n_all; i += stride_all ()) {
    const uint c = i / kept, v = first + i % kept;
    st.w[ring + c * nfft + (pc.pos + v) % nfft] = floatBitsToUint (input_at (v, c));
  }
}
