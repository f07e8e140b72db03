/* gst-ringkernel: the HLC meta. */
#include "gstrkmeta.h"

GType
gst_rk_hlc_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { NULL };

  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("GstRkHlcMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

static gboolean
hlc_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstRkHlcMeta *m = (GstRkHlcMeta *) meta;
  m->hlc = 0;
  m->node = 0;
  return TRUE;
}

static gboolean
hlc_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type, gpointer data)
{
  GstRkHlcMeta *m = (GstRkHlcMeta *) meta;
  /* the stamp belongs to the data, whatever was done to the buffer */
  return gst_buffer_add_rk_hlc_meta (dest, m->hlc, m->node) != NULL;
}

const GstMetaInfo *
gst_rk_hlc_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) &info)) {
    const GstMetaInfo *i = gst_meta_register (GST_RK_HLC_META_API_TYPE, "GstRkHlcMeta",
        sizeof (GstRkHlcMeta), hlc_meta_init, NULL, hlc_meta_transform);
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) i);
  }
  return info;
}

GstRkHlcMeta *
gst_buffer_add_rk_hlc_meta (GstBuffer *buffer, guint64 hlc, guint32 node)
{
  GstRkHlcMeta *m;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  m = (GstRkHlcMeta *) gst_buffer_add_meta (buffer, GST_RK_HLC_META_INFO, NULL);
  if (m) {
    m->hlc = hlc;
    m->node = node;
  }
  return m;
}

/* ---- the link token meta ---- */

GType
gst_rk_link_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { NULL };

  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("GstRkLinkMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

static gboolean
link_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstRkLinkMeta *m = (GstRkLinkMeta *) meta;
  m->route = 0;
  m->len = 0;
  m->seq = 0;
  return TRUE;
}

const GstMetaInfo *
gst_rk_link_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) &info)) {
    /* no transform: a copy of a token is not the token */
    const GstMetaInfo *i = gst_meta_register (GST_RK_LINK_META_API_TYPE, "GstRkLinkMeta",
        sizeof (GstRkLinkMeta), link_meta_init, NULL, NULL);
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) i);
  }
  return info;
}

GstRkLinkMeta *
gst_buffer_add_rk_link_meta (GstBuffer *buffer, guint32 route, guint64 seq, guint32 len)
{
  GstRkLinkMeta *m;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  m = (GstRkLinkMeta *) gst_buffer_add_meta (buffer, GST_RK_LINK_META_INFO, NULL);
  if (m) {
    m->route = route;
    m->seq = seq;
    m->len = len;
  }
  return m;
}
