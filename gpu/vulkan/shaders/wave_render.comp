#version 450
#include "rk_float_mode.glsl"
// A frame of field u, the slice z (core/rk_wave.c, rk_ref_wave_render): one output word an invocation
// (two pixels of GRAY16, one of RGBA or F32); what lies past the grid's width in a row is 0.
#include "rk_wave.glsl"

uint level (float u) {
  precise float t = u * pc.gain;
  if (!(t > -1.0))
    t = -1.0;
  if (t > 1.0)
    t = 1.0;
  precise float l = (t + 1.0) * 32767.5;
  return uint (l);
}

uint rgba (uint lv) {
  const uint i = lv >> 8;
  uint r, g, b;
  if (i < 128u) {
    r = g = 2u * i;
    b = 255u;
  } else {
    r = 255u;
    g = b = 2u * (255u - i);
  }
  return r | g << 8 | b << 16 | 0xffu << 24;
}

float cell (uint x, uint y) { return st.f[pc.u_word + (pc.z * pc.h + y) * pc.w + x]; }

void main () {
  const uint words = (pc.stride * pc.h + 3u) / 4u;
  for (uint k = gl_GlobalInvocationID.x; k < words; k += stride_all ()) {
    uint word = 0u;
    if (pc.format == 1u) { // GRAY16: the two 16-bit halves of the word
      for (uint half_ = 0u; half_ < 2u; half_++) {
        const uint b = 4u * k + 2u * half_, y = b / pc.stride, x = (b % pc.stride) / 2u;
        if (y < pc.h && x < pc.w)
          word |= (level (cell (x, y)) & 0xffffu) << (16u * half_);
      }
    } else {
      const uint b = 4u * k, y = b / pc.stride, x = (b % pc.stride) / 4u;
      if (y < pc.h && x < pc.w)
        word = pc.format == 3u ? floatBitsToUint (cell (x, y)) : rgba (level (cell (x, y)));
    }
    dst.w[pc.out_word + k] = word;
  }
}
