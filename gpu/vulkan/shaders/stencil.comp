#version 450
#include "rk_float_mode.glsl"
// stencil: y[i] = (l * x[i-1] + c * x[i]) + r * x[i+1], edges clamped, as the C reference rounds it
#include "rk_common.glsl"
float x (uint i) { return uintBitsToFloat (src.w[pc.in_word + i]); }
void main () {
  const uint n = pc.len / 4u;
  for (uint i = gl_GlobalInvocationID.x; i < n; i += stride ()) {
    const float xl = x (i > 0u ? i - 1u : 0u), xc = x (i), xr = x (i + 1u < n ? i + 1u : n - 1u);
    precise float y = (pc.a * xl + pc.b * xc) + pc.c * xr;
    dst.w[pc.out_word + i] = floatBitsToUint (y);
  }
}
