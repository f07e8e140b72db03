/* gst-ringkernel: backend registry. */
#include "rk_backend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifdef RK_HAVE_CUDA
extern const rk_backend_ops rk_backend_cuda;
#endif
#ifdef RK_HAVE_VULKAN
extern const rk_backend_ops rk_backend_vulkan;
#endif

const char *
rk_backend_kind_name (rk_backend_kind kind)
{
  switch (kind) {
    case RK_BACKEND_AUTO: return "auto";
    case RK_BACKEND_CPU: return "cpu";
    case RK_BACKEND_CUDA: return "cuda";
    case RK_BACKEND_VULKAN: return "vulkan";
  }
  return "unknown";
}

const rk_backend_ops *
rk_backend_get (rk_backend_kind kind, char *why, size_t why_len)
{
  switch (kind) {
    case RK_BACKEND_CPU:
      return &rk_backend_cpu;
    case RK_BACKEND_CUDA:
#ifdef RK_HAVE_CUDA
      return &rk_backend_cuda;
#else
      snprintf (why, why_len, "this build of ringkernel has no CUDA backend");
      return NULL;
#endif
    case RK_BACKEND_VULKAN:
#ifdef RK_HAVE_VULKAN
      return &rk_backend_vulkan;
#else
      snprintf (why, why_len, "this build of ringkernel has no Vulkan backend");
      return NULL;
#endif
    case RK_BACKEND_AUTO:
      break;
  }
  snprintf (why, why_len, "no backend of kind %d", (int) kind);
  return NULL;
}

const rk_backend_ops *
rk_backend_pick (int device_id, char *why, size_t why_len)
{
  static const rk_backend_kind order[] = { RK_BACKEND_CUDA, RK_BACKEND_VULKAN, RK_BACKEND_CPU };
  size_t used = 0;
  if (why_len)
    why[0] = '\0';
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    char reason[256] = "";
    const rk_backend_ops *ops = rk_backend_get (order[i], reason, sizeof reason);
    if (ops && (ops->probe_auto ? ops->probe_auto : ops->probe) (device_id, reason, sizeof reason) == 0)
      return ops;
    if (used < why_len) {
      int n = snprintf (why + used, why_len - used, "%s%s: %s", used ? "; " : "",
          rk_backend_kind_name (order[i]), reason);
      used += n > 0 ? (size_t) n : 0;
    }
  }
  return NULL;
}
