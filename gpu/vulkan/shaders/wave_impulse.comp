#version 450
#include "rk_float_mode.glsl"
// An impulse: the bump added to u and u_prev (core/rk_wave.c, rk_ref_wave_impulse)
#include "rk_wave.glsl"

void main () {
  const int r = int (pc.radius) + 1, side = 2 * r + 1;
  const uint total = uint (side * side * (pc.d > 1u ? side : 1));
  const float rr = pc.radius * pc.radius;
  for (uint i = gl_GlobalInvocationID.x; i < total; i += stride_all ()) {
    const int x = pc.ix - r + int (i % uint (side)), y = pc.iy - r + int (i / uint (side) % uint (side));
    const int z = pc.d > 1u ? pc.iz - r + int (i / uint (side * side)) : 0;
    if (x < 0 || x >= int (pc.w) || y < 0 || y >= int (pc.h) || z < 0 || z >= int (pc.d))
      continue;
    const int dx = x - pc.ix, dy = y - pc.iy, dz = pc.d > 1u ? z - pc.iz : 0;
    const uint r2 = uint (dx * dx + dy * dy + dz * dz);
    float v = 0.0;
    if (float (r2) < rr) {
      precise float s = 1.0 - div_rn (float (r2), rr);
      precise float b = (pc.amp * s) * s;
      v = b;
    }
    const uint at = (uint (z) * pc.h + uint (y)) * pc.w + uint (x);
    precise float a = st.f[pc.u_word + at] + v;
    precise float p = st.f[pc.p_word + at] + v;
    st.f[pc.u_word + at] = a;
    st.f[pc.p_word + at] = p;
  }
}
