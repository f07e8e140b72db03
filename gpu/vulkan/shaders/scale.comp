#version 450
#include "rk_float_mode.glsl"
// scale: y = a * x + b on float32 samples, one rounding per operation, never fused (precise), as the
// C reference computes it
#include "rk_common.glsl"
void main () {
  const uint n = pc.len / 4u;
  for (uint i = gl_GlobalInvocationID.x; i < n; i += stride ()) {
    precise float y = pc.a * uintBitsToFloat (src.w[pc.in_word + i]) + pc.b;
    dst.w[pc.out_word + i] = floatBitsToUint (y);
  }
}
