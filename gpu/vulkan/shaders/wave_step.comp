#version 450
#include "rk_float_mode.glsl"
// One step of the damped wave equation over the whole grid (core/rk_wave.c, rk_ref_wave_step)
#include "rk_wave.glsl"

float keep_at (uint x, uint y, uint z) {
  uint e = min (x, pc.w - 1u - x);
  e = min (e, min (y, pc.h - 1u - y));
  if (pc.d > 1u)
    e = min (e, min (z, pc.d - 1u - z));
  if (e >= pc.band)
    return pc.keep0;
  const float q = div_rn (float (pc.band - e), float (pc.band));
  precise float sponge = (0.15 * q) * q;
  precise float keep = pc.keep0 * (1.0 - sponge);
  return keep;
}

void main () {
  const uint plane = pc.w * pc.h, n = plane * pc.d;
  for (uint i = gl_GlobalInvocationID.x; i < n; i += stride_all ()) {
    const uint x = i % pc.w, y = (i / pc.w) % pc.h, z = i / plane;
    const float uc = st.f[pc.u_word + i];
    const float l = x > 0u ? st.f[pc.u_word + i - 1u] : uc;
    const float r = x + 1u < pc.w ? st.f[pc.u_word + i + 1u] : uc;
    const float dn = y > 0u ? st.f[pc.u_word + i - pc.w] : uc;
    const float up = y + 1u < pc.h ? st.f[pc.u_word + i + pc.w] : uc;
    precise float nsum = (l + r) + (dn + up);
    if (pc.d > 1u) {
      const float bk = z > 0u ? st.f[pc.u_word + i - plane] : uc;
      const float fr = z + 1u < pc.d ? st.f[pc.u_word + i + plane] : uc;
      nsum = nsum + (bk + fr);
    }
    const float keep = pc.band > 0u ? keep_at (x, y, z) : pc.keep0;
    const float prev = st.f[pc.p_word + i];
    precise float lap = nsum - pc.k * uc;
    precise float next = (uc + keep * (uc - prev)) + pc.c2 * lap;
    st.f[pc.p_word + i] = next;
  }
}
