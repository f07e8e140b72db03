#version 450
#include "rk_float_mode.glsl"
// accumulate: per-sample running sums in double precision (the actor's state, in device memory), and
// the running mean so far: y = float (sum * (1 / count)), as the C reference computes it
#include "rk_common.glsl"
layout(std430, binding = 2) buffer State { double sum[]; } st;
void main () {
  const uint n = pc.len / 4u;
  const double inv = packDouble2x32 (uvec2 (pc.inv_lo, pc.inv_hi));
  for (uint i = gl_GlobalInvocationID.x; i < n; i += stride ()) {
    const double x = double (uintBitsToFloat (src.w[pc.in_word + i]));
    precise double s = pc.restart != 0u ? x : st.sum[i] + x;
    st.sum[i] = s;
    precise double m = s * inv;
    dst.w[pc.out_word + i] = floatBitsToUint (float (m));
  }
}
