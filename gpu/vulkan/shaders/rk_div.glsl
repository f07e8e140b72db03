// gst-ringkernel: float division as the C reference's (core/rk_float.h, rk_fdiv), correctly rounded,
// which Vulkan does not promise. Needs GL_ARB_gpu_shader_fp64.
//
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

// the same for any sign of a (the rounding is symmetric)
float div_rn_signed (float a, float b) {
  return a < 0.0 ? -div_rn (-a, b) : div_rn (a, b);
}
