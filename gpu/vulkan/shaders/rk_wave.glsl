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

#include "rk_div.glsl"
