/* gst-ringkernel: a buffer pool whose buffers live in an actor's input arena.
 *
 * Upstream writes its data where the actor reads it (pinned, GPU-visible memory on the CUDA backend),
 * so the element submits such a buffer without copying it. Buffers are not recycled: once a record owns
 * a buffer's region, the actor may still be reading it after upstream lets the buffer go, so every
 * acquire takes fresh room in the arena (allocation there is a few instructions) and a buffer that was
 * never submitted gives its room back when freed.
 */
#include "gstrkpool.h"

#include <errno.h>

GST_DEBUG_CATEGORY_STATIC (gst_rk_pool_debug);
#define GST_CAT_DEFAULT gst_rk_pool_debug

struct _GstRkPool {
  GstBufferPool parent;
  rk_actor *actor;
  guint size;
};

G_DEFINE_TYPE_WITH_CODE (GstRkPool, gst_rk_pool, GST_TYPE_BUFFER_POOL,
    GST_DEBUG_CATEGORY_INIT (gst_rk_pool_debug, "rkpool", 0, "ringkernel input arena pool"));

/* What a pool buffer's memory knows about its room in the arena. */
typedef struct {
  rk_actor *actor;
  rk_input in;
  gint submitted;
} Region;

/* Marks the memories of these pools, so that a buffer of any other memory is told apart without a look
 * at its qdata (which takes a lock that every thread of the process shares). The system allocator,
 * whose wrapped memories these are, uses no flag of its own. */
#define MEMORY_FLAG_REGION (GST_MEMORY_FLAG_LAST << 0)

static GQuark
region_quark (void)
{
  static GQuark q;
  if (!q)
    q = g_quark_from_static_string ("GstRkPoolRegion");
  return q;
}

static void
region_free (gpointer data)
{
  Region *r = data;
  if (!g_atomic_int_get (&r->submitted))
    rk_actor_release_input (r->actor, &r->in);
  rk_actor_unref (r->actor);
  g_free (r);
}

static gboolean
gst_rk_pool_set_config (GstBufferPool *pool, GstStructure *config)
{
  GstRkPool *self = GST_RK_POOL (pool);
  GstCaps *caps;
  guint size, min, max;

  if (!gst_buffer_pool_config_get_params (config, &caps, &size, &min, &max) || size == 0)
    return FALSE;
  self->size = size;
  return GST_BUFFER_POOL_CLASS (gst_rk_pool_parent_class)->set_config (pool, config);
}

static GstFlowReturn
gst_rk_pool_alloc_buffer (GstBufferPool *pool, GstBuffer **buffer, GstBufferPoolAcquireParams *params)
{
  GstRkPool *self = GST_RK_POOL (pool);
  Region *r = g_new0 (Region, 1);
  GstMemory *mem;
  int e;

  /* waits for room like a full ring does (backpressure), and ends at a flush */
  e = rk_actor_reserve_input (self->actor, self->size, &r->in, -1);
  if (e < 0) {
    g_free (r);
    GST_DEBUG_OBJECT (self, "no room: %s", g_strerror (-e));
    return e == -EINTR ? GST_FLOW_FLUSHING : GST_FLOW_ERROR;
  }
  r->actor = rk_actor_ref (self->actor);
  mem = gst_memory_new_wrapped (0, r->in.ptr, self->size, 0, self->size, r, region_free);
  gst_mini_object_set_qdata (GST_MINI_OBJECT (mem), region_quark (), r, NULL);
  GST_MINI_OBJECT_FLAG_SET (mem, MEMORY_FLAG_REGION);
  *buffer = gst_buffer_new ();
  gst_buffer_append_memory (*buffer, mem);
  return GST_FLOW_OK;
}

static void
gst_rk_pool_release_buffer (GstBufferPool *pool, GstBuffer *buffer)
{
  /* never recycled (see above) */
  GST_BUFFER_POOL_CLASS (gst_rk_pool_parent_class)->free_buffer (pool, buffer);
}

static void
gst_rk_pool_finalize (GObject *object)
{
  GstRkPool *self = GST_RK_POOL (object);
  rk_actor_unref (self->actor);
  G_OBJECT_CLASS (gst_rk_pool_parent_class)->finalize (object);
}

static void
gst_rk_pool_class_init (GstRkPoolClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstBufferPoolClass *pool_class = GST_BUFFER_POOL_CLASS (klass);

  gobject_class->finalize = gst_rk_pool_finalize;
  pool_class->set_config = GST_DEBUG_FUNCPTR (gst_rk_pool_set_config);
  pool_class->alloc_buffer = GST_DEBUG_FUNCPTR (gst_rk_pool_alloc_buffer);
  pool_class->release_buffer = GST_DEBUG_FUNCPTR (gst_rk_pool_release_buffer);
}

static void
gst_rk_pool_init (GstRkPool *self)
{
}

GstBufferPool *
gst_rk_pool_new (rk_actor *actor)
{
  GstRkPool *self = g_object_new (GST_TYPE_RK_POOL, NULL);
  gst_object_ref_sink (self);
  self->actor = rk_actor_ref (actor);
  return GST_BUFFER_POOL (self);
}

gboolean
gst_rk_pool_input_of (GstBuffer *buf, rk_actor *actor, rk_input *in)
{
  GstMemory *mem;
  Region *r;

  if (gst_buffer_n_memory (buf) != 1)
    return FALSE;
  mem = gst_buffer_peek_memory (buf, 0);
  if (!GST_MEMORY_FLAG_IS_SET (mem, MEMORY_FLAG_REGION))
    return FALSE;
  r = gst_mini_object_get_qdata (GST_MINI_OBJECT (mem), region_quark ());
  if (!r || r->actor != actor || g_atomic_int_get (&r->submitted))
    return FALSE;
  /* the buffer may show a part of its memory */
  *in = r->in;
  in->ptr += mem->offset;
  in->off += mem->offset;
  in->len = (uint32_t) mem->size;
  return TRUE;
}

void
gst_rk_pool_mark_submitted (GstBuffer *buf)
{
  Region *r = gst_mini_object_get_qdata (GST_MINI_OBJECT (gst_buffer_peek_memory (buf, 0)),
      region_quark ());
  g_atomic_int_set (&r->submitted, 1);
}
