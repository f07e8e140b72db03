/* gst-ringkernel: what the actor elements share. */
#ifndef __GST_RK_COMMON_H__
#define __GST_RK_COMMON_H__

#include <gst/gst.h>

#include "rk_actor.h"
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

/**
 * GstRkLinkMode:
 * @GST_RK_LINK_AUTO: link to an adjacent actor on the same backend without the host (K2K): on one
 *   device through its memory; between two GPUs by peer access, or staged where they have none
 * @GST_RK_LINK_HOST: always pass data through the host
 * @GST_RK_LINK_STAGED: link K2K through an inbox in pinned host memory that both devices map, even
 *   where the device or peer path would do
 *
 * How an actor element passes data to (and takes it from) an adjacent actor element.
 */
typedef enum {
  GST_RK_LINK_AUTO = 0,
  GST_RK_LINK_HOST = 1,
  GST_RK_LINK_STAGED = 2,
} GstRkLinkMode;

#define GST_TYPE_RK_LINK_MODE (gst_rk_link_mode_get_type ())
GType gst_rk_link_mode_get_type (void);

/* K2K. Caps with this feature carry token buffers (a GstRkLinkMeta each) instead of data: the data is
 * in the downstream actor's inbox. GST_RK_LINK_QUERY is the custom query with which an actor asks its
 * downstream neighbour for a route to its inbox. */
#define GST_CAPS_FEATURE_MEMORY_RK_LINK "memory:RKLink"
#define GST_RK_LINK_QUERY "GstRkLinkQuery"

/* The properties every actor element has alike: "backend" (default auto) and "device-id" (default -1),
 * settable up to READY, or also while running where the element can move its actor (movable). */
GParamSpec *gst_rk_param_spec_backend (gboolean movable);
GParamSpec *gst_rk_param_spec_device_id (gboolean movable);
/* "link" (default auto, settable up to READY), for an element with actors on the side(s) named in
 * `sides` ("either pad", "the source pad"). */
GParamSpec *gst_rk_param_spec_link (const gchar *sides);

/* K2K, upstream side: ask the element downstream of srcpad (through GST_RK_LINK_QUERY) for a route to
 * its actor's inbox, for `element`, whose actor is `actor` and whose link property is `mode`. Returns
 * the downstream actor (a reference for the caller) with *route and *path filled in, or NULL: the host
 * path. */
rk_actor *gst_rk_query_route (GstElement *element, GstPad *srcpad, rk_actor *actor, GstRkLinkMode mode,
    rk_route *route, rk_link_path *path);

/* A fresh pair of node ids: the element's own clock gets the even one, its actor the odd one. */
guint32 gst_rk_new_node_pair (void);

/* The names of every built-in kernel, comma separated (for error messages and docs). */
gchar *gst_rk_kernel_names (void);

/* Parse `params` for handler h into values[] (defaults first). On failure returns FALSE with a message
 * that names the offending parameter. */
gboolean gst_rk_parse_params (const rk_handler *h, const GstStructure *params,
    double values[RK_MAX_PARAMS], gchar **error);

/* Contexts. GST_RK_DEVICE_CONTEXT ("ringkernel.device") carries the backend and device an actor element
 * runs on (fields "backend", a backend name, and "device-id", an int), so that elements left to choose
 * (device-id=-1) land where the others are. GStreamer's "gst.cuda.context" (nvcodec's elements, or an
 * application) carries a GstCudaContext, whose "cuda-device-id" names the CUDA device in use. */
#define GST_RK_DEVICE_CONTEXT "ringkernel.device"
#define GST_RK_CUDA_CONTEXT "gst.cuda.context"

GstContext *gst_rk_device_context_new (const gchar *backend, gint device_id);
/* The backend name and device of a "ringkernel.device" context; FALSE if it is not one. */
gboolean gst_rk_device_context_parse (GstContext *context, const gchar **backend, gint *device_id);
/* The device of a "gst.cuda.context" context (its GstCudaContext's cuda-device-id); -1 if none. */
gint gst_rk_cuda_context_device (GstContext *context);
/* Ask for a context of `type`: the element's own (set before), then the peers of its pads, then the
 * application and the bin (a NEED_CONTEXT message, answered synchronously). Returns a reference or
 * NULL. */
GstContext *gst_rk_find_context (GstElement *element, const gchar *type);

/* The backend an actor element runs on: `backend` (AUTO: the best present) on *device_id (-1: where the
 * pipeline's other actors run, else the device of a shared CUDA context, else 0; the choice is written
 * back). Posts an error message on the element and returns NULL when there is none. */
const rk_backend_ops *gst_rk_choose_backend (GstElement *element, GstRkBackend backend, gint *device_id);
/* The same, without the error message: NULL with *error (free it) saying why. */
const rk_backend_ops *gst_rk_resolve_backend (GstElement *element, GstRkBackend backend,
    gint *device_id, gchar **error);

/* An answer's output (ans->out) as a buffer. Zero copy: a buffer that wraps the region in the actor's
 * arena, and hands it back (and drops its reference on the actor) when freed. Downstream may keep a
 * buffer for good (a sink keeps its last one), so a region that would then leave the arena no room
 * for the largest output asked for (rk_actor_output_keepable ()) is copied out and handed back at
 * once instead, and *copied is set (when not NULL). */
GstBuffer *gst_rk_output_buffer (rk_actor *actor, const rk_answer *ans, gboolean *copied);

/* A flow return for an rk_actor call's result: OK, FLUSHING for an interrupted wait, else an error
 * message (with the actor's own reason) posted on the element, and ERROR. */
GstFlowReturn gst_rk_flow_from_errno (GstElement *element, rk_actor *actor, int r, const gchar *what);

G_END_DECLS

#endif /* __GST_RK_COMMON_H__ */
