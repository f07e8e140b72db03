/* gst-ringkernel: what the actor elements share. */
#include "gstrkcommon.h"

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
    g_string_append_printf (s, "%s%s", i ? ", " : "", rk_handler_at (i)->name);
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
