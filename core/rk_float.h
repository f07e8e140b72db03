/* gst-ringkernel: float arithmetic that C and CUDA round the same way.
 *
 * Formulas that both the C reference and device code compute are written with these: one IEEE-754
 * single operation each, rounded to nearest, never fused into a multiply-add. nvcc contracts a * b + c
 * into an FMA unless told otherwise, the C compiler here does not (-ffp-contract=off); with these the
 * two produce the same bits.
 */
#ifndef RK_FLOAT_H
#define RK_FLOAT_H

#if defined(__CUDACC__)
#define RK_FLOAT_FN static __host__ __device__ __forceinline__
#else
#define RK_FLOAT_FN static inline
#endif

#if defined(__CUDA_ARCH__)
#define rk_fadd(a, b) __fadd_rn ((a), (b))
#define rk_fsub(a, b) __fsub_rn ((a), (b))
#define rk_fmul(a, b) __fmul_rn ((a), (b))
#define rk_fdiv(a, b) __fdiv_rn ((a), (b))
#define rk_dadd(a, b) __dadd_rn ((a), (b))
#define rk_dmul(a, b) __dmul_rn ((a), (b))
#define rk_ddiv(a, b) __ddiv_rn ((a), (b))
#else
RK_FLOAT_FN float rk_fadd (float a, float b) { return a + b; }
RK_FLOAT_FN float rk_fsub (float a, float b) { return a - b; }
RK_FLOAT_FN float rk_fmul (float a, float b) { return a * b; }
RK_FLOAT_FN float rk_fdiv (float a, float b) { return a / b; }
RK_FLOAT_FN double rk_dadd (double a, double b) { return a + b; }
RK_FLOAT_FN double rk_dmul (double a, double b) { return a * b; }
RK_FLOAT_FN double rk_ddiv (double a, double b) { return a / b; }
#endif

#endif /* RK_FLOAT_H */
