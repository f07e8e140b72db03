/* gst-ringkernel: user handlers compiled at run time (NVRTC) with the actor's own source. */
#ifndef RK_CUDA_RTC_H
#define RK_CUDA_RTC_H

#include <stddef.h>

typedef struct rk_rtc_header {
  const char *name;
  const char *text;
} rk_rtc_header;

/* Embedded at build time (embed.py). */
extern const char rk_rtc_actor_source[];
extern const rk_rtc_header rk_rtc_headers[];
extern const int rk_rtc_n_headers;

/* Compile the actor source with a user handler for compute capability major.minor into a cubin.
 * Returns 0 and a malloc'd cubin, or a negative errno with the reason (the compiler's log included)
 * in a malloc'd *why. */
int rk_rtc_compile (const char *user_source, const char *user_path, int major, int minor, void **cubin,
    size_t *cubin_size, char **why);

#endif /* RK_CUDA_RTC_H */
