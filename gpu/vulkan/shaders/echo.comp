#version 450
#include "rk_float_mode.glsl"
// echo: the payload, unchanged (whole words: the output region is padded to 256 bytes)
#include "rk_common.glsl"
void main () {
  for (uint i = gl_GlobalInvocationID.x; i < n_words (); i += stride ())
    dst.w[pc.out_word + i] = src.w[pc.in_word + i];
}
