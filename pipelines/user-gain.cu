/* A user handler for rkactor: y = p0 * x + p1 on float32 samples, compiled for the GPU when the
 * element starts. See docs/user-handlers.md, and pipelines/user-gain.pipeline for a launch line.
 *
 * Every thread of the actor that serves a buffer calls rk_user_process with its own first element
 * and the stride between its elements, in bytes of the buffer: here, each thread scales the floats
 * that start at first, first + stride, ... */
extern "C" __device__ void
rk_user_process (const uint8_t *in, uint8_t *out, uint32_t len, const double *p, uint32_t first,
    uint32_t stride)
{
  const float gain = (float) p[0], offset = (float) p[1];
  for (uint32_t i = first; i < len / 4; i += stride)
    ((float *) out)[i] = gain * ((const float *) in)[i] + offset;
}
