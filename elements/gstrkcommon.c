/* gst-ringkernel: what the actor elements share. */
#include "gstrkcommon.h"

#include <errno.h>

#include <math.h>
#include <unistd.h>

GType
gst_rk_backend_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_RK_BACKEND_AUTO, "Best present: CUDA, then Vulkan, then CPU", "auto" },
    { GST_RK_BACKEND_CPU, "Host threads running the C reference handlers", "cpu" },
    { GST_RK_BACKEND_CUDA, "Persistent CUDA kernels", "cuda" },
    { GST_RK_BACKEND_VULKAN, "Host-driven Vulkan compute", "vulkan" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstRkBackend", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_rk_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_RK_MODE_PERSISTENT, "One long-lived actor serves every buffer", "persistent" },
    { GST_RK_MODE_LAUNCH, "One kernel launch and synchronisation per buffer (baseline)", "launch" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstRkMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_rk_link_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_RK_LINK_AUTO, "Data passes between adjacent actors without the host (K2K) where it can",
      "auto" },
    { GST_RK_LINK_HOST, "Data always passes through the host", "host" },
    { GST_RK_LINK_STAGED, "K2K through pinned host memory that both devices map", "staged" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstRkLinkMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

guint32
gst_rk_new_node_pair (void)
{
  static gint counter = 0;
  guint32 n = (guint32) g_atomic_int_add (&counter, 1);
  /* the process id keeps nodes of different processes apart */
  return ((guint32) getpid () << 16) ^ (n << 1);
}

gchar *
gst_rk_kernel_names (void)
{
  GString *s = g_string_new (NULL);
  for (unsigned i = 0; i < rk_handler_count (); i++)
    if (rk_handler_at (i)->caps) /* the others are driven by their own elements */
      g_string_append_printf (s, "%s%s", s->len ? ", " : "", rk_handler_at (i)->name);
  return g_string_free (s, FALSE);
}

typedef struct {
  const rk_handler *h;
  double *values;
  gchar **error;
} ParseCtx;

static gboolean
parse_field (GQuark field, const GValue *value, gpointer user_data)
{
  ParseCtx *ctx = user_data;
  const gchar *name = g_quark_to_string (field);
  int i = rk_handler_param_index (ctx->h, name);
  GValue d = G_VALUE_INIT;
  double v;

  if (i < 0) {
    GString *known = g_string_new (NULL);
    for (uint32_t k = 0; k < ctx->h->n_params; k++)
      g_string_append_printf (known, "%s%s", k ? ", " : "", ctx->h->params[k].name);
    *ctx->error = g_strdup_printf ("unknown parameter '%s' for kernel '%s' (its parameters: %s)",
        name, ctx->h->name, known->len ? known->str : "none");
    g_string_free (known, TRUE);
    return FALSE;
  }
  g_value_init (&d, G_TYPE_DOUBLE);
  if (!g_value_type_transformable (G_VALUE_TYPE (value), G_TYPE_DOUBLE)
      || G_VALUE_HOLDS_STRING (value) || !g_value_transform (value, &d)) {
    *ctx->error = g_strdup_printf ("parameter '%s' of kernel '%s' must be a number, not a %s", name,
        ctx->h->name, G_VALUE_TYPE_NAME (value));
    g_value_unset (&d);
    return FALSE;
  }
  v = g_value_get_double (&d);
  g_value_unset (&d);
  if (isnan (v) || v < ctx->h->params[i].min || v > ctx->h->params[i].max) {
    *ctx->error = g_strdup_printf ("parameter '%s' of kernel '%s' is out of range (%g)", name,
        ctx->h->name, v);
    return FALSE;
  }
  ctx->values[i] = v;
  return TRUE;
}

gboolean
gst_rk_parse_params (const rk_handler *h, const GstStructure *params, double values[RK_MAX_PARAMS],
    gchar **error)
{
  ParseCtx ctx = { h, values, error };
  rk_handler_default_params (h, values);
  if (!params)
    return TRUE;
  return gst_structure_foreach (params, parse_field, &ctx);
}

GstContext *
gst_rk_device_context_new (const gchar *backend, gint device_id)
{
  GstContext *context = gst_context_new (GST_RK_DEVICE_CONTEXT, TRUE);
  GstStructure *s = gst_context_writable_structure (context);
  gst_structure_set (s, "backend", G_TYPE_STRING, backend, "device-id", G_TYPE_INT, device_id, NULL);
  return context;
}

gboolean
gst_rk_device_context_parse (GstContext *context, const gchar **backend, gint *device_id)
{
  const GstStructure *s;
  if (!context || !gst_context_has_context_type (context, GST_RK_DEVICE_CONTEXT))
    return FALSE;
  s = gst_context_get_structure (context);
  *backend = gst_structure_get_string (s, "backend");
  return *backend && gst_structure_get_int (s, "device-id", device_id) && *device_id >= 0;
}

gint
gst_rk_cuda_context_device (GstContext *context)
{
  const GstStructure *s;
  const GValue *v;
  GObject *obj;
  GParamSpec *pspec;
  GValue id = G_VALUE_INIT, as_int = G_VALUE_INIT;
  gint device = -1;

  if (!context || !gst_context_has_context_type (context, GST_RK_CUDA_CONTEXT))
    return -1;
  s = gst_context_get_structure (context);
  v = gst_structure_get_value (s, GST_RK_CUDA_CONTEXT);
  if (!v || !G_VALUE_HOLDS_OBJECT (v) || !(obj = g_value_get_object (v)))
    return -1;
  /* read through GObject, so that the plugin needs no link to GStreamer's CUDA library */
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (obj), "cuda-device-id");
  if (!pspec)
    return -1;
  g_value_init (&id, pspec->value_type);
  g_object_get_property (obj, "cuda-device-id", &id);
  g_value_init (&as_int, G_TYPE_INT);
  if (g_value_transform (&id, &as_int))
    device = g_value_get_int (&as_int);
  g_value_unset (&id);
  g_value_unset (&as_int);
  return device;
}

static gboolean
query_peer (const GValue *item, GValue *value, gpointer user_data)
{
  GstPad *pad = g_value_get_object (item);
  GstQuery *query = user_data;
  if (gst_pad_peer_query (pad, query)) {
    g_value_set_boolean (value, TRUE);
    return FALSE; /* answered: stop */
  }
  return TRUE;
}

GstContext *
gst_rk_find_context (GstElement *element, const gchar *type)
{
  GstContext *context = gst_element_get_context (element, type);
  GstQuery *query;
  GstIterator *it;
  GValue answered = G_VALUE_INIT;

  if (context)
    return context;

  /* downstream first, then upstream, as GStreamer's own elements ask */
  query = gst_query_new_context (type);
  g_value_init (&answered, G_TYPE_BOOLEAN);
  it = gst_element_iterate_src_pads (element);
  gst_iterator_fold (it, query_peer, &answered, query);
  gst_iterator_free (it);
  if (!g_value_get_boolean (&answered)) {
    it = gst_element_iterate_sink_pads (element);
    gst_iterator_fold (it, query_peer, &answered, query);
    gst_iterator_free (it);
  }
  if (g_value_get_boolean (&answered)) {
    gst_query_parse_context (query, &context);
    if (context) {
      gst_context_ref (context);
      gst_element_set_context (element, context);
    }
  }
  gst_query_unref (query);
  if (context)
    return context;

  /* the application or a bin may answer this message synchronously, with gst_element_set_context () */
  gst_element_post_message (element, gst_message_new_need_context (GST_OBJECT (element), type));
  return gst_element_get_context (element, type);
}

/* ---- choosing a backend, and output buffers ---- */

static GstRkBackend
backend_from_name (const gchar *name)
{
  static const GstRkBackend kinds[] = { GST_RK_BACKEND_CPU, GST_RK_BACKEND_CUDA,
    GST_RK_BACKEND_VULKAN };
  for (guint i = 0; name && i < G_N_ELEMENTS (kinds); i++)
    if (g_strcmp0 (name, rk_backend_kind_name ((rk_backend_kind) kinds[i])) == 0)
      return kinds[i];
  return GST_RK_BACKEND_AUTO;
}

/* device-id=-1: the device (and, for backend=auto, the backend) of the pipeline's other actors; else
 * the device of a shared CUDA context, for CUDA; else 0. */
static gint
pick_device (GstElement *self, GstRkBackend *backend)
{
  GstContext *context = gst_rk_find_context (self, GST_RK_DEVICE_CONTEXT);
  const gchar *name = NULL;
  gint device = -1;
  char why[256];

  if (gst_rk_device_context_parse (context, &name, &device)) {
    GST_INFO_OBJECT (self, "the pipeline's actors run on %s device %d", name, device);
    if (*backend == GST_RK_BACKEND_AUTO)
      *backend = backend_from_name (name);
  }
  if (context)
    gst_context_unref (context);
  if (device >= 0)
    return device;

  if (*backend == GST_RK_BACKEND_AUTO || *backend == GST_RK_BACKEND_CUDA) {
    context = gst_rk_find_context (self, GST_RK_CUDA_CONTEXT);
    device = gst_rk_cuda_context_device (context);
    if (context)
      gst_context_unref (context);
    if (device >= 0) {
      const rk_backend_ops *cuda = rk_backend_get (RK_BACKEND_CUDA, why, sizeof why);
      GST_INFO_OBJECT (self, "the pipeline shares CUDA device %d (gst.cuda.context)", device);
      if (*backend == GST_RK_BACKEND_CUDA)
        return device;
      /* auto: that device, where CUDA works on it; otherwise the context is no concern of ours */
      if (cuda && cuda->probe (device, why, sizeof why) == 0) {
        *backend = GST_RK_BACKEND_CUDA;
        return device;
      }
    }
  }
  return 0;
}

const rk_backend_ops *
gst_rk_resolve_backend (GstElement *self, GstRkBackend backend, gint *device_id, gchar **error)
{
  const rk_backend_ops *ops;
  char why[1024] = "";
  int r = 0;

  if (*device_id < 0)
    *device_id = pick_device (self, &backend);

  if (backend == GST_RK_BACKEND_AUTO) {
    ops = rk_backend_pick (*device_id, why, sizeof why);
    if (!ops) {
      *error = g_strdup_printf ("No backend works on device %d (%s).", *device_id, why);
      return NULL;
    }
    GST_INFO_OBJECT (self, "backend=auto chose %s (%s)", ops->name, why[0] ? why : "best present");
    GST_ELEMENT_INFO (self, RESOURCE, SETTINGS, ("Using the %s backend.", ops->name),
        ("backend=auto chose %s; passed over: %s", ops->name, why[0] ? why : "nothing"));
  } else {
    ops = rk_backend_get ((rk_backend_kind) backend, why, sizeof why);
    if (ops)
      r = ops->probe (*device_id, why, sizeof why);
    if (!ops || r < 0) {
      *error = g_strdup_printf ("backend=%s is not available on device %d: %s.",
          rk_backend_kind_name ((rk_backend_kind) backend), *device_id, why);
      return NULL;
    }
  }
  return ops;
}

const rk_backend_ops *
gst_rk_choose_backend (GstElement *self, GstRkBackend backend, gint *device_id)
{
  gchar *error = NULL;
  const rk_backend_ops *ops = gst_rk_resolve_backend (self, backend, device_id, &error);
  if (!ops) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", error), (NULL));
    g_free (error);
  }
  return ops;
}

typedef struct {
  rk_actor *actor;
  uint64_t token;
} OutputRegion;

static void
output_region_free (gpointer data)
{
  OutputRegion *o = data;
  rk_actor_release_output (o->actor, o->token);
  rk_actor_unref (o->actor);
  g_free (o);
}

GstBuffer *
gst_rk_output_buffer (rk_actor *actor, const rk_answer *ans, gboolean *copied)
{
  const gboolean copy = !rk_actor_output_keepable (actor, ans->out_token);
  if (copied)
    *copied = copy;
  if (copy) {
    GstBuffer *out = gst_buffer_new_memdup (ans->out, ans->rec.len);
    rk_actor_release_output (actor, ans->out_token);
    return out;
  }
  OutputRegion *o = g_new (OutputRegion, 1);
  GstBuffer *out = gst_buffer_new ();
  o->actor = rk_actor_ref (actor);
  o->token = ans->out_token;
  gst_buffer_append_memory (out, gst_memory_new_wrapped (GST_MEMORY_FLAG_READONLY,
          (gpointer) ans->out, ans->rec.len, 0, ans->rec.len, o, output_region_free));
  return out;
}

GstFlowReturn
gst_rk_flow_from_errno (GstElement *self, rk_actor *actor, int r, const gchar *what)
{
  char why[256] = "";

  switch (r) {
    case 0:
      return GST_FLOW_OK;
    case -EINTR:
      return GST_FLOW_FLUSHING;
    default:
      rk_actor_check (actor, why, sizeof why);
      GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("The %s actor failed while %s.",
              rk_actor_backend (actor)->name, what),
          ("error %d (%s)%s%s", r, g_strerror (-r), why[0] ? ": " : "", why));
      return GST_FLOW_ERROR;
  }
}

#define MOVE_BLURB "; set while the element runs, the actor moves there (see the element's docs)"

#define BACKEND_BLURB "Where the actor runs; auto picks CUDA, then Vulkan, then the CPU and says " \
  "which on the bus"

GParamSpec *
gst_rk_param_spec_backend (gboolean movable)
{
  return g_param_spec_enum ("backend", "Backend", movable ? BACKEND_BLURB MOVE_BLURB : BACKEND_BLURB,
      GST_TYPE_RK_BACKEND, GST_RK_BACKEND_AUTO, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
      | (movable ? GST_PARAM_MUTABLE_PLAYING : GST_PARAM_MUTABLE_READY));
}

#define DEVICE_BLURB "Index of the device the actor runs on; -1: the device of the pipeline's " \
  "other actors (a \"ringkernel.device\" context), else that of a CUDA context shared in the " \
  "pipeline (\"gst.cuda.context\", from nvcodec's elements or the application), else 0"

GParamSpec *
gst_rk_param_spec_device_id (gboolean movable)
{
  return g_param_spec_int ("device-id", "Device id", movable ? DEVICE_BLURB MOVE_BLURB : DEVICE_BLURB,
      -1, G_MAXINT, -1, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
      | (movable ? GST_PARAM_MUTABLE_PLAYING : GST_PARAM_MUTABLE_READY));
}

GParamSpec *
gst_rk_param_spec_link (const gchar *sides)
{
  gchar *blurb = g_strdup_printf ("auto: when the neighbour on %s is an actor element on the same "
      "backend, data passes between the two actors without the host (K2K) and only a token crosses "
      "the pad: on one device through its memory, between two GPUs by peer access, or staged through "
      "pinned host memory where they have none (stats say which); staged: take the staged path even "
      "where another would do; host: data always passes through the host (either side can ask for "
      "host or staged)", sides);
  GParamSpec *spec = g_param_spec_enum ("link", "Link", g_intern_string (blurb), GST_TYPE_RK_LINK_MODE,
      GST_RK_LINK_AUTO, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_free (blurb);
  return spec;
}

rk_actor *
gst_rk_query_route (GstElement *element, GstPad *srcpad, rk_actor *actor, GstRkLinkMode mode,
    rk_route *route, rk_link_path *path)
{
  rk_actor *peer = NULL;
  GstQuery *q = gst_query_new_custom (GST_QUERY_CUSTOM, gst_structure_new (GST_RK_LINK_QUERY,
          "upstream", G_TYPE_POINTER, element, "upstream-actor", G_TYPE_POINTER, actor, "staged",
          G_TYPE_BOOLEAN, mode == GST_RK_LINK_STAGED, NULL));
  *path = RK_LINK_HOST;
  if (gst_pad_peer_query (srcpad, q)) {
    /* the route travels whole, as the bytes of an rk_route: a field added to it one day cannot be
     * left behind on the way (the inbox's mirror was, once) */
    const GstStructure *s = gst_query_get_structure (q);
    GBytes *b = NULL;
    guint p = 0;
    if (gst_structure_get (s, "route", G_TYPE_BYTES, &b, "path", G_TYPE_UINT, &p, "actor",
            G_TYPE_POINTER, &peer, NULL)) {
      gsize n = 0;
      const void *d = g_bytes_get_data (b, &n);
      if (n == sizeof *route) {
        memcpy (route, d, sizeof *route);
        *path = (rk_link_path) p;
      } else {
        GST_WARNING_OBJECT (element, "a K2K route of %" G_GSIZE_FORMAT " bytes, not %" G_GSIZE_FORMAT
            ": the host path stays", n, sizeof *route);
        rk_actor_unref (peer);
        peer = NULL;
      }
      g_bytes_unref (b);
    }
  }
  gst_query_unref (q);
  return peer;
}
