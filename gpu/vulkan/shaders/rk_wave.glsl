// gst-ringkernel: the wave's shaders share this (gpu/vulkan/rk_vulkan.c, struct vk_wave_push, must
// match). The two fields are the state buffer, one after the other; every per-cell formula is
// core/rk_wave.h's, each float operation on its own (precise: never fused), divisions in double and
// rounded once to float, which gives the correctly rounded float quotient as the C reference has it.
#extension GL_ARB_gpu_shader_fp64 : enable

layout(local_size_x = 256) in;

layout(std430, binding = 1) writeonly buffer Out { uint w[]; } dst;
layout(std430, binding = 2) buffer Fields { float f[]; } st;

layout(push_constant) uniform WavePush {
  uint u_word, p_word; // fields: u, and u_prev (the step writes u_next over it)
  uint out_word;       // render: the frame's first word in `dst`
  uint w, h, d;
  float c2, keep0, k;  // C^2, 1 - damping, 4 (2D) or 6 (3D)
  uint band;           // absorbing band in cells; 0: reflecting edges
  float gain;
  uint format, stride, z; // render: rk_wave_format, row bytes, the slice shown
  int ix, iy, iz;      // impulse: centre
  float amp, radius;
} pc;

uint stride_all () { return gl_NumWorkGroups.x * gl_WorkGroupSize.x; }

// float (a / b) for a >= 0, b > 0, correctly rounded as the C reference's division is: the quotient in
// double (which Vulkan does not promise to round correctly either) rounded to float is the answer or
// one of its neighbours; the one whose exact remainder a - q * b (a float product is exact in double,
// and the difference of two close doubles too) is the smallest is the answer.
float div_rn (float a, float b) {
  const float q = float (double (a) / double (b));
  const uint qb = floatBitsToUint (q);
  const double da = double (a), db = double (b);
  float best = q;
  precise double best_r = abs (da - double (q) * db);
  for (int k = -1; k <= 1; k += 2) {
    if (qb == 0u && k < 0)
      continue;
    const float c = uintBitsToFloat (uint (int (qb) + k));
    precise double r = abs (da - double (c) * db);
    if (r < best_r || (r == best_r && (floatBitsToUint (c) & 1u) == 0u)) {
      best = c;
      best_r = r;
    }
  }
  return best;
}
