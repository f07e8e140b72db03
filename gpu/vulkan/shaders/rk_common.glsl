// gst-ringkernel: what every handler shader shares. The host records one dispatch per record: the
// payload's word offset in the input buffer, the output's in the output buffer, its length in bytes
// and the handler's parameters come as push constants (gpu/vulkan/rk_vulkan.c, struct vk_push, must
// match). Payloads and outputs start 4-byte aligned (arena regions are 256-byte aligned and padded).
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer In { uint w[]; } src;
layout(std430, binding = 1) writeonly buffer Out { uint w[]; } dst;

layout(push_constant) uniform Push {
  uint in_word;   // payload: first word in `src`
  uint out_word;  // output: first word in `dst`
  uint len;       // payload bytes
  uint restart;   // accumulate: the length changed, the sums start again
  float a, b, c;  // parameters 0..2, as float32 (as the C reference rounds them)
  uint inv_lo, inv_hi; // accumulate: 1.0 / count, a double's bits
} pc;

uint n_words () { return (pc.len + 3u) / 4u; }
uint stride () { return gl_NumWorkGroups.x * gl_WorkGroupSize.x; }
