#version 450
#include "rk_float_mode.glsl"
// levels: y = clamp(a * x + b) on 16-bit samples, rounded half up (core/rk_handlers.h,
// rk_levels_u16); two samples a word
#include "rk_common.glsl"
uint level (uint x) {
  precise float v = pc.a * float (x) + pc.b;
  if (!(v > 0.0))
    return 0u;
  if (v >= 65535.0)
    return 65535u;
  precise float r = v + 0.5;
  return uint (r);
}
void main () {
  for (uint i = gl_GlobalInvocationID.x; i < n_words (); i += stride ()) {
    const uint x = src.w[pc.in_word + i];
    dst.w[pc.out_word + i] = level (x & 0xffffu) | (level (x >> 16) << 16);
  }
}
