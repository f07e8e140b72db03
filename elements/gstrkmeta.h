/* gst-ringkernel: the HLC meta carried by every buffer that leaves an actor. */
#ifndef __GST_RK_META_H__
#define __GST_RK_META_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_RK_HLC_META_API_TYPE (gst_rk_hlc_meta_api_get_type ())
#define GST_RK_HLC_META_INFO (gst_rk_hlc_meta_get_info ())

typedef struct _GstRkHlcMeta GstRkHlcMeta;

/**
 * GstRkHlcMeta:
 * @meta: parent #GstMeta
 * @hlc: hybrid logical clock timestamp: physical milliseconds in the upper 48 bits, a logical counter
 *   in the lower 16
 * @node: id of the clock (actor or element) that stamped the buffer; breaks ties between equal stamps
 */
struct _GstRkHlcMeta {
  GstMeta meta;
  guint64 hlc;
  guint32 node;
};

GType gst_rk_hlc_meta_api_get_type (void);
const GstMetaInfo *gst_rk_hlc_meta_get_info (void);
GstRkHlcMeta *gst_buffer_add_rk_hlc_meta (GstBuffer *buffer, guint64 hlc, guint32 node);

#define gst_buffer_get_rk_hlc_meta(b) \
  ((GstRkHlcMeta *) gst_buffer_get_meta ((b), GST_RK_HLC_META_API_TYPE))

#define GST_RK_LINK_META_API_TYPE (gst_rk_link_meta_api_get_type ())
#define GST_RK_LINK_META_INFO (gst_rk_link_meta_get_info ())

typedef struct _GstRkLinkMeta GstRkLinkMeta;

/**
 * GstRkLinkMeta:
 * @meta: the parent meta
 * @route: the link (route id) the data travels on
 * @seq: the link sequence number of the data in the downstream actor's inbox
 * @len: bytes of data the token stands for
 *
 * What a token buffer carries between two linked actors (caps feature "memory:RKLink"): the data
 * itself stays in the downstream actor's inbox on the device. The token keeps the buffer's
 * timestamps, flags and HLC meta. A token means nothing outside the link, so the meta is never copied
 * to another buffer.
 */
struct _GstRkLinkMeta {
  GstMeta meta;
  guint32 route;
  guint32 len;
  guint64 seq;
};

GType gst_rk_link_meta_api_get_type (void);
const GstMetaInfo *gst_rk_link_meta_get_info (void);
GstRkLinkMeta *gst_buffer_add_rk_link_meta (GstBuffer *buffer, guint32 route, guint64 seq, guint32 len);

#define gst_buffer_get_rk_link_meta(b) \
  ((GstRkLinkMeta *) gst_buffer_get_meta ((b), GST_RK_LINK_META_API_TYPE))

G_END_DECLS

#endif /* __GST_RK_META_H__ */
