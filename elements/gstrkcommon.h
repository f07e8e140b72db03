/* gst-ringkernel: what the actor elements share. */
#ifndef __GST_RK_COMMON_H__
#define __GST_RK_COMMON_H__

#include <gst/gst.h>

#include "rk_backend.h"
#include "rk_handlers.h"

G_BEGIN_DECLS

/**
 * GstRkBackend:
 * @GST_RK_BACKEND_AUTO: the best backend present: CUDA, then Vulkan, then the CPU
 * @GST_RK_BACKEND_CPU: host threads running the C reference handlers
 * @GST_RK_BACKEND_CUDA: persistent CUDA kernels
 * @GST_RK_BACKEND_VULKAN: host-driven Vulkan compute dispatches
 */
typedef enum {
  GST_RK_BACKEND_AUTO = RK_BACKEND_AUTO,
  GST_RK_BACKEND_CPU = RK_BACKEND_CPU,
  GST_RK_BACKEND_CUDA = RK_BACKEND_CUDA,
  GST_RK_BACKEND_VULKAN = RK_BACKEND_VULKAN,
} GstRkBackend;

#define GST_TYPE_RK_BACKEND (gst_rk_backend_get_type ())
GType gst_rk_backend_get_type (void);

/**
 * GstRkMode:
 * @GST_RK_MODE_PERSISTENT: one long-lived actor serves the rings (a persistent kernel on a GPU)
 * @GST_RK_MODE_LAUNCH: the traditional way, for comparison: one kernel launch and synchronisation per
 *   buffer (GPU backends only)
 */
typedef enum {
  GST_RK_MODE_PERSISTENT = RK_MODE_PERSISTENT,
  GST_RK_MODE_LAUNCH = RK_MODE_LAUNCH,
} GstRkMode;

#define GST_TYPE_RK_MODE (gst_rk_mode_get_type ())
GType gst_rk_mode_get_type (void);

/* A fresh pair of node ids: the element's own clock gets the even one, its actor the odd one. */
guint32 gst_rk_new_node_pair (void);

/* The names of every built-in kernel, comma separated (for error messages and docs). */
gchar *gst_rk_kernel_names (void);

/* Parse `params` for handler h into values[] (defaults first). On failure returns FALSE with a message
 * that names the offending parameter. */
gboolean gst_rk_parse_params (const rk_handler *h, const GstStructure *params,
    double values[RK_MAX_PARAMS], gchar **error);

G_END_DECLS

#endif /* __GST_RK_COMMON_H__ */
