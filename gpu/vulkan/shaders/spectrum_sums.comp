#version 450
#include "rk_float_mode.glsl"
// The sums of the batch's events, one invocation per channel and band: each adds the batch's terms in
// event order and answers an interval's averages where it ends (core/rk_spectrum.c, spectrum_process ()).
#include "rk_spectrum.glsl"

void main () {
  const uint B = s_bands (), C = s_channels (), block = B * C, flags = c_flags ();
  const uint per = ((flags & F_MAGNITUDE) != 0u ? 1u : 0u) + ((flags & F_PHASE) != 0u ? 1u : 0u);
  const uint mag = area (H_MAG), ph = area (H_PHASE), values = area (H_VALUES);
  for (uint i = gl_GlobalInvocationID.x; i < block; i += stride_all ()) {
    const uint c = i / B, k = i % B;
    float am = pc.restart != 0u ? 0.0 : uintBitsToFloat (st.w[mag + i]);
    float ap = pc.restart != 0u ? 0.0 : uintBitsToFloat (st.w[ph + i]);
    uint n = pc.nf, ends = pc.ends, fj = 0u;
    for (uint e = pc.e0; e < pc.e1; e++) {
      const uint kind = ev_kind (e);
      if ((kind & EV_FFT) != 0u) {
        const uint v = values + 2u * ((fj * C + c) * 2u * B + k);
        if ((flags & F_MAGNITUDE) != 0u) {
          precise double t = double (am) + ld_double (v);
          am = float (t);
        }
        if ((flags & F_PHASE) != 0u) {
          precise double t = double (ap) + ld_double (v + 2u * B);
          ap = float (t);
        }
        fj++;
        n++;
      }
      if ((kind & EV_END) != 0u) {
        uint o = pc.out_word + ends * per * block + i;
        if ((flags & F_MAGNITUDE) != 0u) {
          dst.w[o] = floatBitsToUint (div_rn_signed (am, float (n)));
          o += block;
        }
        if ((flags & F_PHASE) != 0u)
          dst.w[o] = floatBitsToUint (div_rn_signed (ap, float (n)));
        am = 0.0;
        ap = 0.0;
        n = 0u;
        ends++;
      }
    }
    st.w[mag + i] = floatBitsToUint (am);
    st.w[ph + i] = floatBitsToUint (ap);
  }
}
