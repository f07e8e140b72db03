/* gst-ringkernel: rkactor, a persistent actor as a filter element. */
#ifndef __GST_RK_ACTOR_H__
#define __GST_RK_ACTOR_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_RK_ACTOR (gst_rk_actor_get_type ())
G_DECLARE_FINAL_TYPE (GstRkActor, gst_rk_actor, GST, RK_ACTOR, GstElement)

GST_ELEMENT_REGISTER_DECLARE (rkactor);

G_END_DECLS

#endif /* __GST_RK_ACTOR_H__ */
