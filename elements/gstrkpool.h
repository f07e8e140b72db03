/* gst-ringkernel: a buffer pool whose buffers live in an actor's input arena. */
#ifndef __GST_RK_POOL_H__
#define __GST_RK_POOL_H__

#include <gst/gst.h>

#include "rk_actor.h"

G_BEGIN_DECLS

#define GST_TYPE_RK_POOL (gst_rk_pool_get_type ())
G_DECLARE_FINAL_TYPE (GstRkPool, gst_rk_pool, GST, RK_POOL, GstBufferPool)

/* A pool for `actor` (a reference is taken). */
GstBufferPool *gst_rk_pool_new (rk_actor *actor);

/* If buf is one piece of memory from a pool of `actor` that no record owns yet, describe where it lies
 * in the input arena (in), for rk_actor_submit_input (). */
gboolean gst_rk_pool_input_of (GstBuffer *buf, rk_actor *actor, rk_input *in);
/* After rk_actor_submit_input () took `in`: the record owns the room now, not the buffer. */
void gst_rk_pool_mark_submitted (GstBuffer *buf);

G_END_DECLS

#endif /* __GST_RK_POOL_H__ */
