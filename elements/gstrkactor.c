/* gst-ringkernel: rkactor, a persistent actor as a filter element.
 *
 * Copyright (C) 2026 the gst-ringkernel authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-rkactor
 * @title: rkactor
 *
 * rkactor runs a persistent actor: a kernel launched once, when the element goes to PAUSED, that keeps
 * its state between buffers and serves them through a host-to-kernel (H2K) ring, answering through a
 * kernel-to-host (K2H) ring. The chain function writes each buffer into the H2K ring and returns at
 * once; a streaming thread on the source pad takes the answers, in order, and pushes them downstream,
 * so up to #GstRkActor:ring-size buffers are in flight. That thread spins for 50 us after its last
 * answer before it sleeps, so that a buffer that follows soon finds it awake. A buffer that comes
 * alone, when everything before it has been pushed (upstream waits for each result, or a live source
 * sends them apart: at least 5 us after the last one for buffers of up to 4 KiB, 50 us for larger
 * ones), is answered by the chain function itself, which waits about 100 us for the answer and
 * pushes it, rather than hand it over to the other thread.
 *
 * Built-in kernels (#GstRkActor:kernel):
 *
 * - `echo`: returns the payload unchanged (any caps; the latency probe).
 * - `scale`: float32 audio, y = a*x + b (parameters `a`, `b`).
 * - `stencil`: float32 audio, y[i] = l*x[i-1] + c*x[i] + r*x[i+1], edges clamped (`l`, `c`, `r`).
 * - `levels`: GRAY16_LE video, y = a*x + b clamped to 0..65535 and rounded (`a`, `b`): contrast and
 *   brightness, for example on the frames of `rkwavesrc`.
 * - `accumulate`: float32 audio; the actor keeps a running sum per sample position over every buffer
 *   it has seen, and answers with the running mean so far. A buffer of a different length restarts it.
 *
 * Parameters (#GstRkActor:params) may change while PLAYING; the change reaches the actor as a
 * set-parameter command, ordered with the data, and applies from the next buffer on, with no restart.
 * A full ring blocks the chain function until there is room or the element flushes: nothing is dropped.
 * EOS is forwarded once every buffer sent before it has been answered. Every output buffer carries a
 * #GstRkHlcMeta with the actor's hybrid logical clock stamp; an input buffer's stamp is received by the
 * actor's clock. The #GstRkActor:stats property reports counters and round-trip percentiles.
 *
 * With #GstRkActor:message-size, each buffer is cut into messages of that size, each its own record
 * (and its own step of a stateful kernel), sent in batches; their answers leave as one buffer. With
 * #GstRkActor:device-id -1, the actor runs where the pipeline's other actors announced they run (a
 * "ringkernel.device" context), or for CUDA on the device of a shared "gst.cuda.context".
 *
 * Two actor elements linked directly, on the same backend, pass the data from actor to actor without
 * the host (a K2K link): the upstream actor writes its results straight into the downstream actor's
 * inbox, and only a token buffer (caps feature "memory:RKLink", with the timestamps, flags and HLC
 * meta of the buffer) crosses the pad. The link is agreed when caps are set, through a query that
 * hands the downstream inbox to the upstream actor. Its path: on one device the data stays there;
 * between two GPUs the upstream kernel writes into the other GPU's memory where they have peer access,
 * and into an inbox in pinned host memory that both map where they do not (staged, also chosen with
 * #GstRkActor:link=staged). #GstRkActor:link=host on either side keeps the host path, and so does any
 * other neighbour. A full inbox stalls the upstream actor, whose ring then fills and blocks its chain
 * function: backpressure without drops. The stats report "link-in" and "link-out" (host, device, peer
 * or staged) and the records that went through the inbox.
 *
 * A running actor can move: set #GstRkActor:backend, #GstRkActor:device-id, #GstRkActor:ring-size or
 * #GstRkActor:arena-size while the element runs, and a new actor starts with those settings at once,
 * on a thread of its own, while the old one goes on serving; before the next buffer, the old one takes
 * a snapshot of its state behind every buffer sent to it (whose answers leave first), the new one
 * restores it, and the stream goes on there: nothing is lost, repeated or computed without its state.
 * An element message "rkactor-moved" (from-backend, from-device-id, backend, device-id, ring-size,
 * arena-size; pause-us: how long the stream waited, of which waited-launch-us for what was left of
 * the new actor's start (none when started-ahead is true) and handover-us from the snapshot's
 * submission until the new actor took over; launch-us: how long the start took) says that it happened;
 * a move that cannot be made (no such device, a backend that cannot take the kernel's state out, a
 * K2K-linked actor) posts a warning, and the actor goes on where it was.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 audiotestsrc num-buffers=1000 ! audio/x-raw,format=F32LE ! \
 *     rkactor backend=cpu kernel=scale params="p,a=2.0,b=1.0" ! fakesink
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstrkactor.h"

#include <errno.h>
#include <gst/video/video.h>
#include <stdlib.h>
#include <string.h>

#include "gstrkcommon.h"
#include "gstrkmeta.h"
#include "gstrkpool.h"
#include "rk_actor.h"
#include "rk_hlc.h"
#include "rk_wait.h"

GST_DEBUG_CATEGORY_STATIC (gst_rk_actor_debug);
#define GST_CAT_DEFAULT gst_rk_actor_debug

#define DEFAULT_BACKEND GST_RK_BACKEND_AUTO
#define DEFAULT_MODE GST_RK_MODE_PERSISTENT
#define DEFAULT_KERNEL "echo"
#define DEFAULT_RING_SIZE 64
#define DEFAULT_DEVICE_ID -1
#define DEFAULT_ARENA_SIZE (16 * 1024 * 1024)
#define MAX_RING_SIZE 65536
#define RTT_SAMPLES 4096
#define STOP_TIMEOUT_NS (5 * G_GINT64_CONSTANT (1000000000))
#define MAX_LIST 64 /* answers already waiting go downstream together, as one buffer list */
#define TASK_SPIN_NS (50 * 1000) /* how long the idle source pad task spins before it sleeps */
/* A lone buffer's answer taken by the chain function itself (answer_directly ()): how long it waits
 * for it before it hands the buffer over to the task */
#define DIRECT_WAIT_NS (100 * 1000)
/* ... and how long after its last return a buffer must come to be taken so (take_directly_locked ()):
 * a small one, whose answer takes a few microseconds, or any other */
#define DIRECT_GAP_SMALL_NS (5 * 1000)
#define DIRECT_SMALL_BYTES 4096
#define DIRECT_GAP_NS TASK_SPIN_NS
/* K2K: a buffer that comes this soon after the chain function last returned is part of a stream, whose
 * tokens the source pad's task pushes (HANDOFF below); one that comes later has its token pushed by
 * the chain function at once */
#define HANDOFF_GAP_NS (10 * 1000)
/* A result of at most this many bytes goes back into its input buffer when upstream gave that buffer
 * away (writable, one writable memory, not read-only), as an in-place transform would, or at the end
 * of a K2K chain into the token that came for it (with memory added while the actor works): a copy of
 * a few cache lines out of the output arena costs less than a new buffer wrapping the arena, whose
 * release takes the actor's lock again from whichever thread frees it (make_output ()) */
#define REUSE_MAX_BYTES 4096

enum {
  PROP_0,
  PROP_BACKEND,
  PROP_MODE,
  PROP_KERNEL,
  PROP_KERNEL_FILE,
  PROP_PARAMS,
  PROP_RING_SIZE,
  PROP_DEVICE_ID,
  PROP_ARENA_SIZE,
  PROP_BUFFER_LISTS,
  PROP_MESSAGE_SIZE,
  PROP_LINK,
  PROP_STATS,
};

/* What the source pad's task must do, in the order the sink pad saw it. Every record sent to the actor
 * has one item, so answers and items pair up one to one. */
typedef enum {
  ITEM_BUFFER,  /* a PROCESS record: push its answer as a buffer */
  ITEM_COMMAND, /* a control record: check its answer */
  ITEM_EVENT,   /* a serialized event with no record: push it when it reaches the front */
  ITEM_EOS,     /* a DRAIN record: push the EOS event once it is answered */
} ItemKind;

typedef struct {
  ItemKind kind;
  guint64 seq;
  gboolean discard; /* flushed: consume the answer, push nothing */
  GstEvent *event;
  guint32 cmd;
  GstClockTime pts, dts, duration;
  guint64 offset, offset_end;
  GstBufferFlags flags;
  guint64 submit_ns;
  /* a buffer cut into messages (message-size): one record each, answers gathered into `data`.
   * nsub and nmsg are written by the chain function under `lock`; the rest by the source pad's task */
  guint32 nmsg, nsub, got;
  gboolean truncated; /* not every message was submitted (a flush, an error): push nothing */
  guint8 *data;
  gsize filled;
  guint16 status; /* the first error answer's status, or 0 */
  guint64 hlc;
  guint32 node;
  gboolean routed; /* K2K: the output went down the link; a token was pushed already. Its answer
                    * waits (enqueue_quiet_locked ()), and is not timed */
  gboolean direct; /* the chain function takes the answer and pushes it (answer_directly ()); the
                    * task leaves the item alone until it is cleared (`lock`) */
  GstBuffer *reuse; /* the input buffer, which takes its own result (REUSE_MAX_BYTES) */
} Item;

/* A move's new actor, started ahead by the launcher thread (move_launcher ()), with the settings it
 * was started for. actor NULL: none, because the settings ask for where the actor runs already
 * (error NULL) or because it could not start (error says why). */
typedef struct {
  guint version; /* of the settings (move_version) */
  gboolean valid;
  rk_actor *actor;
  const rk_backend_ops *ops;
  gint device_id;
  guint ring_size;
  guint64 arena_size;
  guint64 launch_ns; /* how long the start took */
  gchar *error;
  guint generation; /* moves made when it compared the settings with the running actor */
} Launched;

struct _GstRkActor {
  GstElement parent;

  GstPad *sinkpad, *srcpad;

  /* properties: object lock */
  GstRkBackend backend;
  GstRkMode mode;
  gchar *kernel;
  gchar *kernel_file;
  GstStructure *params;
  guint ring_size;
  gint device_id;
  guint64 arena_size;
  gboolean buffer_lists;
  guint message_size;
  GstRkLinkMode link;

  /* set at start, constant until stop; the actor and where it runs (run_*) change with a move, in the
   * streaming thread with submit_lock and lock */
  const rk_handler *handler;
  rk_actor *actor;
  guint32 msg_size; /* message-size when started */
  gint run_device;  /* the device it runs on */
  guint run_ring;   /* its ring-size and arena-size */
  guint64 run_arena;
  GstRkMode run_mode;
  GstRkLinkMode run_link;
  gchar *source, *source_path; /* a user handler's source and file, kept for a move */
  rk_hlc clock; /* the element's own clock (node = even id); the actor's is node + 1 */
  guint32 run_cmd; /* the run state asked for last: RK_CMD_PAUSE or RK_CMD_RESUME */

  /* a move: set by a property change while running, done by the streaming thread (atomic) */
  gint move_wanted;
  /* ... whose new actor a thread of its own starts as soon as the setting changes (move_lock) */
  GMutex move_lock;
  GCond move_cond;
  guint move_version;   /* bumped by every setting that moves the actor */
  guint launched_for;   /* the version the launcher last started an actor for */
  gboolean launching;   /* the launcher thread runs */
  gboolean move_closed; /* the element stops: no launch starts */
  Launched launched;    /* its last result */
  /* the snapshot a move takes: written by the source pad's task when answered (lock) */
  GBytes *checkpoint;
  guint32 checkpoint_status;
  guint32 checkpoint_need; /* bytes a snapshot needs, when the room given was too small */
  gboolean checkpoint_done;

  /* serialises H2K producers (the streaming thread, a property change); taken before `lock`.
   * Only the streaming thread ever waits for room while holding it; anyone else only tries it. */
  GMutex submit_lock;

  /* lock: the item queue, the streaming state, and control not yet sent to the actor */
  GMutex lock;
  double values[RK_MAX_PARAMS]; /* what the actor has been (or will be) told */
  guint32 dirty_params;         /* bits of values[] not yet sent */
  guint32 wanted_run;           /* RK_CMD_PAUSE or RK_CMD_RESUME not yet sent, or 0 */
  GCond cond;
  guint cond_waiters; /* threads in cond_wait_locked () */
  gint wakes;         /* bumped by every cond_broadcast_locked (), for a task that spins (atomic) */
  GQueue items;
  guint unwoken; /* items queued quietly since the task last looked at the queue (half a ring wake it) */
  gboolean task_idle; /* the task waits for items: all before have been pushed */
  guint direct_skip, direct_backoff; /* lone buffers left to the task (take_directly_locked ()) */
  gboolean flushing;
  gboolean eos;
  GstFlowReturn srcresult;
  GstClockTime max_duration;
  guint64 chain_done_ns; /* when the chain function last returned a buffer's flow (streaming thread) */

  /* K2K: set when caps are set (in the streaming thread, with submit_lock and lock), read by the
   * chain function */
  gboolean link_in;  /* the sink pad takes tokens: the input is in the actor's inbox */
  guint32 in_route;  /* the route whose tokens the sink pad takes (0: none offered) */
  rk_link_path in_path; /* ... its path, and the inbox it writes into (RK_CMD_INBOX names it) */
  rk_route in_inbox;
  rk_link_path inbox_path; /* the inbox the actor reads: its own (DEVICE, as it starts), or in_inbox */
  guint32 routes;    /* routes to the inbox handed out so far */
  gboolean link_out; /* the source pad pushes tokens: the output goes down the route */
  /* ... tokens (buffers) and serialized events handed to the task to push, in order (lock), and
   * whether the task is pushing one now */
  GQueue outq;
  gboolean out_pushing;
  /* ... how many went into outq (atomic), and whether the task waits for an answer meanwhile: it then
   * leaves that wait when one comes (outq_push_locked ()) */
  guint32 out_queued;
  gboolean answer_wait;
  /* ... and the forwarded record whose token the chain function pushes at once, its item not queued
   * yet (`lock`): queue_late_locked () */
  gboolean late_routed;
  guint64 late_seq;
  rk_link_path out_path;
  rk_actor *peer;    /* the downstream actor: its inbox stays alive while our route points there */
  guint32 out_route;
  guint64 out_seq;   /* next link sequence number: out_route << 40 | count */

  /* statistics: lock */
  guint64 buffers_in, buffers_in_place, buffers_out, flushed, commands, command_errors;
  guint64 buffers_copied; /* of buffers_out: copied out of the output arena (make_output ()) */
  guint64 buffers_reused; /* of buffers_out: results written into their input buffer */
  guint64 tokens_in, tokens_out;
  guint moves;
  guint64 move_pause_ns;
  guint64 rtt[RTT_SAMPLES];
  guint rtt_count;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

#define gst_rk_actor_parent_class parent_class
G_DEFINE_TYPE (GstRkActor, gst_rk_actor, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (rkactor, "rkactor", GST_RANK_NONE, GST_TYPE_RK_ACTOR,
    GST_DEBUG_CATEGORY_INIT (gst_rk_actor_debug, "rkactor", 0, "ringkernel persistent actor"));

static void gst_rk_actor_finalize (GObject *object);
static void gst_rk_actor_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec);
static void gst_rk_actor_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec);
static GstStateChangeReturn gst_rk_actor_change_state (GstElement *element,
    GstStateChange transition);
static GstFlowReturn gst_rk_actor_chain (GstPad *pad, GstObject *parent, GstBuffer *buf);
static GstFlowReturn gst_rk_actor_chain_list (GstPad *pad, GstObject *parent, GstBufferList *list);
static gboolean gst_rk_actor_sink_event (GstPad *pad, GstObject *parent, GstEvent *event);
static gboolean gst_rk_actor_sink_query (GstPad *pad, GstObject *parent, GstQuery *query);
static gboolean gst_rk_actor_src_query (GstPad *pad, GstObject *parent, GstQuery *query);
static gboolean gst_rk_actor_src_activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode,
    gboolean active);
static void gst_rk_actor_loop (GstPad *pad);
static void record_rtt_locked (GstRkActor *self, guint64 ns);
static GstBuffer *make_output (GstRkActor *self, Item *item, const rk_answer *ans, guint *reused,
    guint64 *later);
static void pushed (GstRkActor *self, guint n, guint reused, GstFlowReturn ret);
static GstFlowReturn move_actor (GstRkActor *self);
static void close_moves (GstRkActor *self, gboolean closed);
static void discard_out_locked (GstRkActor *self, gboolean keep_sticky);
static void queue_late_locked (GstRkActor *self);

/* ---- items ---- */

static void
item_free (Item *item)
{
  if (item->event)
    gst_event_unref (item->event);
  if (item->reuse)
    gst_buffer_unref (item->reuse);
  g_free (item->data);
  g_free (item);
}

/* Every wait on cond goes through these, with lock held. A broadcast is a system call even with no one
 * waiting (GLib's GCond is a bare futex), once per buffer and element: so it is made only when someone
 * waits. */
static void
cond_wait_locked (GstRkActor *self)
{
  self->cond_waiters++;
  g_cond_wait (&self->cond, &self->lock);
  self->cond_waiters--;
}

static void
cond_broadcast_locked (GstRkActor *self)
{
  g_atomic_int_set (&self->wakes, self->wakes + 1); /* writers hold `lock` */
  if (self->cond_waiters)
    g_cond_broadcast (&self->cond);
}

/* The source pad's task, out of work, watches `wakes` for TASK_SPIN_NS before it sleeps on cond:
 * whatever would have woken it ends the spin. A sleeping task takes several microseconds to wake
 * (a futex wake-up), about what a GPU actor takes to answer a small record, so a buffer that comes
 * soon after the last one finds the task awake, and its chain function makes no system call. The
 * time is bounded by the clock, not by a count of pause instructions; a task that spins in vain
 * costs TASK_SPIN_NS of one core per buffer. Called without `lock`; returns when woken or when the
 * time is up, and the caller re-checks under `lock` as after any wake-up. */
static void
spin_for_wake (GstRkActor *self, gint seen)
{
  rk_spin s = { 0 };
  while (g_atomic_int_get (&self->wakes) == seen && rk_spin_on (&s, TASK_SPIN_NS))
    ;
}

/* Push an item at the back of the queue and wake the task. Called with `lock`. */
static void
enqueue_locked (GstRkActor *self, Item *item)
{
  g_queue_push_tail (&self->items, item);
  cond_broadcast_locked (self);
}

/* The same for an item whose answer nobody waits for: a record in the middle of a K2K chain, whose
 * input came from the inbox and whose output went down the route (its token has gone already). Its
 * answer only says that it was forwarded, and holds no arena room, so the task is woken for half a
 * ring of them at a time, or by whatever comes next (an event, a buffer of its own), and not once per
 * buffer: a wake-up is a system call in the streaming thread, once per element of a chain. Called
 * with `lock`. */
static void
enqueue_quiet_locked (GstRkActor *self, Item *item)
{
  g_queue_push_tail (&self->items, item);
  if (++self->unwoken >= MAX (self->run_ring / 2, 1))
    cond_broadcast_locked (self);
}

/* Hand a token, or a serialized event behind tokens, to the task to push. The task may be waiting for
 * an answer meanwhile, and that answer for this token: the actor publishes a batch's answers
 * together, after the last, so the answer of a record forwarded down a route can wait while a later
 * one of the same batch waits for room in the downstream inbox, which the records that come with
 * these tokens free. So the wait ends, and the token goes first. Called with `lock`. */
static void
outq_push_locked (GstRkActor *self, gpointer obj)
{
  g_queue_push_tail (&self->outq, obj);
  rk_store_release32 (&self->out_queued, self->out_queued + 1); /* writers hold `lock` */
  cond_broadcast_locked (self);
  if (self->answer_wait)
    rk_actor_wake_receiver (self->actor);
}

/* ---- class ---- */

static void
gst_rk_actor_class_init (GstRkActorClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  gchar *kernels = gst_rk_kernel_names ();
  gchar *kernel_blurb;

  gobject_class->finalize = gst_rk_actor_finalize;
  gobject_class->set_property = gst_rk_actor_set_property;
  gobject_class->get_property = gst_rk_actor_get_property;

  g_object_class_install_property (gobject_class, PROP_BACKEND, gst_rk_param_spec_backend (TRUE));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "persistent: the actor lives as long as the element; launch: one kernel launch and "
          "synchronisation per buffer, the traditional way, for comparison (GPU backends only)",
          GST_TYPE_RK_MODE, DEFAULT_MODE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  kernel_blurb = g_strdup_printf ("Built-in handler the actor runs (one of: %s)", kernels);
  g_object_class_install_property (gobject_class, PROP_KERNEL,
      g_param_spec_string ("kernel", "Kernel", kernel_blurb, DEFAULT_KERNEL,
          G_PARAM_READWRITE | G_PARAM_STATIC_NAME | G_PARAM_STATIC_NICK | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_KERNEL_FILE,
      g_param_spec_string ("kernel-file", "Kernel file",
          "A CUDA source file defining rk_user_process (see docs/user-handlers.md), compiled for the "
          "device when the element starts; replaces kernel; parameters p0..p7",
          NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_PARAMS,
      g_param_spec_boxed ("params", "Parameters",
          "The kernel's parameters as a structure, e.g. \"p,a=2.0,b=1.0\" for scale; a change while "
          "PLAYING applies from the next buffer on, without a restart",
          GST_TYPE_STRUCTURE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_RING_SIZE,
      g_param_spec_uint ("ring-size", "Ring size",
          "Entries of the H2K and K2H rings: buffers in flight at most (a power of two); set while "
          "the element runs, the actor moves to a new one of that size, state and all",
          2, MAX_RING_SIZE, DEFAULT_RING_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_DEVICE_ID, gst_rk_param_spec_device_id (TRUE));
  g_object_class_install_property (gobject_class, PROP_ARENA_SIZE,
      g_param_spec_uint64 ("arena-size", "Arena size",
          "Bytes of payload memory the actor reads from and of payload memory it writes to (each); "
          "bounds the data in flight, and a buffer may not be larger; set while the element runs, the "
          "actor moves to a new one of that size, state and all",
          RK_ARENA_ALIGN, G_GUINT64_CONSTANT (1) << 36, DEFAULT_ARENA_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_BUFFER_LISTS,
      g_param_spec_boolean ("buffer-lists", "Buffer lists",
          "Push answers that are already waiting downstream together, as one buffer list (fewer pad "
          "calls at high buffer rates; buffer probes downstream then see lists)",
          FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MESSAGE_SIZE,
      g_param_spec_uint ("message-size", "Message size",
          "0: each buffer is one message to the actor. N: each buffer is cut into N-byte messages, each "
          "its own record on the ring (its own answer, and its own step of a stateful kernel), whose "
          "answers leave together as one buffer; a buffer must then hold whole messages. Small "
          "messages travel in batches, which is how the rings reach millions of records a second",
          0, G_MAXINT32, 0,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LINK,
      gst_rk_param_spec_link ("either pad"));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "backend, device-id, kernel, actor-state, moves and move-pause-us (the last move's wait), "
          "buffers-in, buffers-in-place (written by upstream straight "
          "into the actor's memory, from the pool it proposed), buffers-out, buffers-out-reused (of "
          "buffers-out, small results written into their own input buffer, which upstream gave away, "
          "or at the end of a K2K chain into the token that came for them), "
          "buffers-out-copied (of buffers-out, those copied out of the actor's memory rather than "
          "wrapped: a buffer kept downstream there would have left no room for the next results; "
          "raise arena-size), "
          "flushed, commands, "
          "in-flight, "
          "ring-size, ring-high-water, heartbeat, hlc, rtt-samples and the round trip from H2K to K2H "
          "in microseconds: rtt-min-us, rtt-p50-us, rtt-p99-us, rtt-max-us (records forwarded down a K2K "
          "route are not timed: their answers wait); K2K: link-in and "
          "link-out (host, device, peer or staged), tokens-in, tokens-out, routed-in and routed-out (records "
          "taken from the inbox and written into the downstream inbox, on the device), routed-in-fast "
          "(of routed-in, those taken from the inbox's low-latency mirror), skipped-in; "
          "records-in-fast and answers-fast (records the actor took from the H2K ring's low-latency "
          "mirror, and answers the element took from the K2H ring's: CUDA)",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_free (kernels);
  g_free (kernel_blurb);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Ringkernel actor", "Filter",
      "Runs a persistent actor (CPU thread, CUDA kernel or Vulkan compute) fed through shared rings",
      "gst-ringkernel authors");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_rk_actor_change_state);
  gst_type_mark_as_plugin_api (GST_TYPE_RK_BACKEND, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_RK_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_RK_LINK_MODE, 0);
}

static void
gst_rk_actor_init (GstRkActor *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_rk_actor_chain));
  gst_pad_set_chain_list_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_rk_actor_chain_list));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_rk_actor_sink_event));
  gst_pad_set_query_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_rk_actor_sink_query));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_rk_actor_src_query));
  gst_pad_set_activatemode_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_rk_actor_src_activate_mode));
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->backend = DEFAULT_BACKEND;
  self->mode = DEFAULT_MODE;
  self->kernel = g_strdup (DEFAULT_KERNEL);
  self->ring_size = DEFAULT_RING_SIZE;
  self->device_id = DEFAULT_DEVICE_ID;
  self->arena_size = DEFAULT_ARENA_SIZE;
  self->flushing = TRUE;
  self->srcresult = GST_FLOW_FLUSHING;
  self->max_duration = GST_CLOCK_TIME_NONE;
  g_mutex_init (&self->lock);
  g_mutex_init (&self->move_lock);
  g_cond_init (&self->move_cond);
  self->move_closed = TRUE; /* until it starts */
  g_mutex_init (&self->submit_lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->items);
}

static void
gst_rk_actor_finalize (GObject *object)
{
  GstRkActor *self = GST_RK_ACTOR (object);

  g_queue_clear_full (&self->items, (GDestroyNotify) item_free);
  g_free (self->kernel);
  g_free (self->kernel_file);
  g_free (self->source);
  g_free (self->source_path);
  g_clear_pointer (&self->checkpoint, g_bytes_unref);
  if (self->params)
    gst_structure_free (self->params);
  g_mutex_clear (&self->lock);
  g_mutex_clear (&self->move_lock);
  g_cond_clear (&self->move_cond);
  g_mutex_clear (&self->submit_lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* ---- talking to the actor ---- */

/* Submit one control record with its item. Called with submit_lock. */
static int
submit_command (GstRkActor *self, guint32 cmd, guint32 aux, guint64 arg, const void *payload,
    guint32 len, guint32 out_cap, int64_t timeout_ns)
{
  rk_record rec = { 0 };
  int r;

  rec.type = (uint16_t) cmd;
  rec.u.desc.aux = aux;
  rec.u.desc.arg = arg;
  rec.hlc = rk_hlc_tick (&self->clock);
  rec.node = self->clock.node;
  r = rk_actor_submit (self->actor, &rec, payload, len, out_cap, timeout_ns);
  if (r == 0) {
    Item *item = g_new0 (Item, 1);
    item->kind = ITEM_COMMAND;
    item->cmd = cmd;
    item->seq = rec.seq;
    item->submit_ns = rk_now_ns ();
    g_mutex_lock (&self->lock);
    queue_late_locked (self); /* a record submitted before this one */
    enqueue_locked (self, item);
    self->commands++;
    g_mutex_unlock (&self->lock);
  }
  return r;
}

/* Send what the actor has not been told yet: changed parameters and the run state. With block, wait
 * for room (interruptible by a flush); without, send what fits now and leave the rest for later.
 * Called with submit_lock. */
static int
send_pending_control (GstRkActor *self, gboolean block)
{
  for (;;) {
    guint32 cmd = 0, aux = 0;
    guint64 arg = 0;
    int r;

    g_mutex_lock (&self->lock);
    if (self->dirty_params) {
      aux = (guint32) g_bit_nth_lsf (self->dirty_params, -1);
      cmd = RK_CMD_SET_PARAM;
      memcpy (&arg, &self->values[aux], sizeof arg);
      self->dirty_params &= ~(1u << aux);
    } else if (self->wanted_run) {
      cmd = self->wanted_run;
      self->wanted_run = 0;
    }
    g_mutex_unlock (&self->lock);
    if (!cmd)
      return 0;

    if (!block && !rk_actor_can_submit (self->actor, 0, 0))
      r = -EAGAIN;
    else
      r = submit_command (self, cmd, aux, arg, NULL, 0, 0, block ? -1 : 0);
    if (r < 0) {
      /* not sent: keep it for later, unless something newer replaced it meanwhile */
      g_mutex_lock (&self->lock);
      if (cmd == RK_CMD_SET_PARAM)
        self->dirty_params |= 1u << aux;
      else if (!self->wanted_run)
        self->wanted_run = cmd;
      g_mutex_unlock (&self->lock);
      return r;
    }
    GST_DEBUG_OBJECT (self, "%s sent (%u)", rk_cmd_name (cmd), aux);
  }
}

/* Send pending control now if nobody is submitting; otherwise the streaming thread sends it ahead of
 * its next buffer. Never blocks: a state change or a property change must not wait for the ring. */
static void
try_send_pending_control (GstRkActor *self)
{
  if (!g_mutex_trylock (&self->submit_lock))
    return;
  if (self->actor)
    send_pending_control (self, FALSE);
  g_mutex_unlock (&self->submit_lock);
}

/* Ask the actor to pause or resume. */
static void
request_run_state (GstRkActor *self, guint32 cmd)
{
  g_mutex_lock (&self->lock);
  self->wanted_run = self->run_cmd = cmd;
  g_mutex_unlock (&self->lock);
  try_send_pending_control (self);
}

/* ---- start / stop ---- */

/* What is wrong with these sizes for an actor of h, or NULL. */
static gchar *
check_sizes (const rk_handler *h, guint ring_size, guint64 arena_size, guint message_size)
{
  if (ring_size < 2 || (ring_size & (ring_size - 1)))
    return g_strdup_printf ("ring-size %u is not a power of two (2, 4, 8, ... %u)", ring_size,
        MAX_RING_SIZE);
  if (arena_size % RK_ARENA_ALIGN)
    return g_strdup_printf ("arena-size %" G_GUINT64_FORMAT " is not a multiple of %u", arena_size,
        RK_ARENA_ALIGN);
  if (message_size % h->unit || message_size > arena_size / 2)
    return g_strdup_printf ("message-size %u is not a whole number of kernel '%s''s %u-byte samples, "
        "or more than half of arena-size", message_size, h->name, h->unit);
  return NULL;
}

/* Stop an actor that has nothing more to do (buffers that wrap its output keep its memory). */
static void
end_actor (GstRkActor *self, rk_actor *actor)
{
  int r = rk_actor_stop (actor, STOP_TIMEOUT_NS);
  if (r < 0)
    GST_ELEMENT_WARNING (self, RESOURCE, CLOSE, ("An actor did not terminate cleanly."),
        ("rk_actor_stop: %s", g_strerror (-r)));
  rk_actor_unref (actor);
}

/* Launch an actor of the element's kernel (self->handler or h) with the settings it started with,
 * on ops and device_id, with the parameters `values` (NULL: the handler's defaults). */
static int
launch_actor (GstRkActor *self, const rk_handler *h, const rk_backend_ops *ops, gint device_id,
    guint ring_size, guint64 arena_size, const double *values, guint32 node, rk_actor **actor,
    char *why, size_t why_len)
{
  rk_actor_config cfg = { 0 };

  cfg.backend = ops;
  cfg.device_id = device_id;
  cfg.handler = h;
  cfg.mode = (rk_actor_mode) self->run_mode;
  cfg.kernel_source = self->source;
  cfg.kernel_path = self->source_path;
  cfg.ring_entries = ring_size;
  cfg.in_arena_size = arena_size;
  cfg.out_arena_size = arena_size;
  cfg.node = node;
  cfg.params = values;
  /* an inbox for an upstream actor to write into (K2K); none where data only ever comes from the host */
  cfg.inbox_arena_size = self->run_link != GST_RK_LINK_HOST && !self->msg_size ? arena_size : 0;
  return rk_actor_new (&cfg, actor, why, why_len);
}

static gboolean
gst_rk_actor_start (GstRkActor *self)
{
  const rk_backend_ops *ops;
  const rk_handler *h;
  double values[RK_MAX_PARAMS];
  gchar *err = NULL, *kernel, *kernel_file, *source = NULL;
  GstStructure *params;
  GstRkBackend backend;
  GstRkMode mode;
  guint ring_size;
  gint device_id;
  guint64 arena_size;
  guint message_size;
  GstRkLinkMode link;
  char why[1024] = "";
  guint32 node;
  int r;

  GST_OBJECT_LOCK (self);
  kernel = g_strdup (self->kernel);
  kernel_file = g_strdup (self->kernel_file);
  params = self->params ? gst_structure_copy (self->params) : NULL;
  backend = self->backend;
  mode = self->mode;
  ring_size = self->ring_size;
  device_id = self->device_id;
  arena_size = self->arena_size;
  message_size = self->message_size;
  link = self->link;
  GST_OBJECT_UNLOCK (self);

  if (kernel_file) {
    GError *gerr = NULL;
    if (!g_file_get_contents (kernel_file, &source, NULL, &gerr)) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Cannot read kernel-file: %s.", gerr->message),
          (NULL));
      g_error_free (gerr);
      goto fail;
    }
    h = rk_handler_user ();
  } else {
    h = rk_handler_find (kernel);
  }
  if (h && !h->caps) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Kernel '%s' is driven by its own element (%s), not by rkactor.", h->name,
            h->id == RK_KERNEL_WAVE ? "rkwavesrc"
            : h->id == RK_KERNEL_SPECTRUM ? "rkspectrum" : "see gst-inspect-1.0 ringkernel"), (NULL));
    goto fail;
  }
  if (!h) {
    gchar *names = gst_rk_kernel_names ();
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Unknown kernel '%s'. Known kernels: %s.", kernel ? kernel : "(null)", names), (NULL));
    g_free (names);
    goto fail;
  }
  if (!gst_rk_parse_params (h, params, values, &err)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Invalid params: %s.", err), (NULL));
    g_free (err);
    goto fail;
  }
  if ((err = check_sizes (h, ring_size, arena_size, message_size))) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s.", err), (NULL));
    g_free (err);
    goto fail;
  }

  ops = gst_rk_choose_backend (GST_ELEMENT (self), backend, &device_id);
  if (!ops)
    goto fail;

  node = gst_rk_new_node_pair ();
  /* the pads are inactive: nothing else reads these yet */
  self->run_mode = mode;
  self->run_link = link;
  self->msg_size = message_size;
  g_free (self->source);
  g_free (self->source_path);
  self->source = g_steal_pointer (&source);
  self->source_path = g_strdup (kernel_file);
  rk_actor *actor = NULL;
  r = launch_actor (self, h, ops, device_id, ring_size, arena_size, NULL, node | 1, &actor, why,
      sizeof why);
  if (r < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("Could not start the %s actor: %s.", ops->name, why),
        ("error %d", r));
    goto fail;
  }

  rk_hlc_init (&self->clock, node);
  g_mutex_lock (&self->submit_lock);
  g_mutex_lock (&self->lock);
  self->handler = h;
  self->actor = actor;
  self->inbox_path = RK_LINK_DEVICE; /* it reads its own inbox */
  self->run_device = device_id;
  self->run_ring = ring_size;
  self->run_arena = arena_size;
  g_mutex_unlock (&self->lock);
  /* tell the pipeline where this actor runs: its bin hands the context to the other elements, so that
   * actors left to choose land on the same backend and device (which a K2K link needs) */
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_have_context (GST_OBJECT (self),
          gst_rk_device_context_new (ops->name, device_id)));
  g_mutex_unlock (&self->submit_lock);
  g_mutex_lock (&self->lock);
  memcpy (self->values, values, sizeof values);
  /* the actor starts with the defaults: tell it every parameter that differs */
  self->dirty_params = 0;
  for (guint i = 0; i < h->n_params; i++)
    if (values[i] != h->params[i].def)
      self->dirty_params |= 1u << i;
  self->wanted_run = self->run_cmd = RK_CMD_PAUSE;
  g_mutex_unlock (&self->lock);
  g_atomic_int_set (&self->move_wanted, 0);
  close_moves (self, FALSE); /* a setting changed from now on starts a new actor at once */
  self->buffers_in = self->buffers_in_place = self->buffers_out = self->flushed = 0;
  self->buffers_copied = self->buffers_reused = 0;
  self->tokens_in = self->tokens_out = 0;
  self->moves = 0;
  self->move_pause_ns = 0;
  self->commands = self->command_errors = 0;
  self->rtt_count = 0;
  self->direct_skip = self->direct_backoff = 0;
  self->eos = FALSE;
  self->max_duration = GST_CLOCK_TIME_NONE;
  GST_INFO_OBJECT (self, "actor started: kernel %s on %s, ring %u, arena %" G_GUINT64_FORMAT
      " bytes, node %u", h->name, ops->name, ring_size, arena_size, node | 1);

  g_free (kernel);
  g_free (kernel_file);
  g_free (source);
  if (params)
    gst_structure_free (params);
  return TRUE;

fail:
  g_free (kernel);
  g_free (kernel_file);
  g_free (source);
  if (params)
    gst_structure_free (params);
  return FALSE;
}

static void
gst_rk_actor_stop (GstRkActor *self)
{
  rk_actor *actor;
  int r;

  close_moves (self, TRUE); /* an actor it starts for a move is ended before the element's are */
  if (!self->actor)
    return;
  /* the pads are inactive: no streaming thread uses the actor any more. Records still waiting for
   * link data that will not come (the upstream actor has stopped, or will) give up first. */
  rk_actor_cancel_links (self->actor);
  r = rk_actor_stop (self->actor, STOP_TIMEOUT_NS);
  if (r < 0)
    GST_ELEMENT_WARNING (self, RESOURCE, CLOSE, ("The actor did not terminate cleanly."),
        ("rk_actor_stop: %s", g_strerror (-r)));
  g_mutex_lock (&self->submit_lock);
  g_mutex_lock (&self->lock);
  self->late_routed = FALSE;
  g_queue_clear_full (&self->items, (GDestroyNotify) item_free);
  discard_out_locked (self, FALSE);
  actor = self->actor;
  self->actor = NULL;
  self->handler = NULL;
  rk_actor *peer = g_steal_pointer (&self->peer); /* our actor has ended: the route is unused */
  self->link_in = self->link_out = FALSE;
  self->in_route = self->out_route = 0;
  self->in_path = self->inbox_path = self->out_path = RK_LINK_HOST;
  g_mutex_unlock (&self->lock);
  g_mutex_unlock (&self->submit_lock);
  /* buffers still downstream keep the actor's output memory alive until they are freed */
  rk_actor_unref (actor);
  if (peer)
    rk_actor_unref (peer);
}

static GstStateChangeReturn
gst_rk_actor_change_state (GstElement *element, GstStateChange transition)
{
  GstRkActor *self = GST_RK_ACTOR (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (!gst_rk_actor_start (self))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_PAUSED_TO_PLAYING:
      request_run_state (self, RK_CMD_RESUME);
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    if (transition == GST_STATE_CHANGE_READY_TO_PAUSED)
      gst_rk_actor_stop (self);
    return ret;
  }

  switch (transition) {
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      request_run_state (self, RK_CMD_PAUSE);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      gst_rk_actor_stop (self);
      break;
    default:
      break;
  }
  return ret;
}

/* ---- streaming: sink side ---- */

/* Submit a buffer cut into n messages (message-size), in batches that leave room for the answers of
 * the one before to be read meanwhile. The item is queued with the first batch; later batches only
 * raise its count, under `lock`. If a batch cannot be sent (a flush, an error), the item is marked
 * truncated and ends with what was sent. Called with submit_lock. */
static int
submit_messages (GstRkActor *self, Item *item, rk_record *rec, const guint8 *data, guint32 n,
    gboolean *queued)
{
  const guint32 msg = self->msg_size;
  guint32 entries = rk_actor_ring_entries (self->actor);
  guint32 per = MAX (1, entries / 2);
  guint32 done = 0;
  int r = 0;

  *queued = FALSE;
  if ((guint64) per * msg > self->run_arena / 2)
    per = MAX (1, (guint32) (self->run_arena / 2 / msg));
  rec->hlc = rk_hlc_tick (&self->clock); /* every message of one buffer is stamped with its send */
  item->submit_ns = rk_now_ns ();
  while (done < n) {
    guint32 k = MIN (n - done, per);
    r = rk_actor_submit_batch (self->actor, rec, k, data + (gsize) done * msg, msg, msg, -1);
    if (r < 0)
      break;
    g_mutex_lock (&self->lock);
    if (done == 0) {
      item->seq = rec->seq;
      item->nmsg = n;
      item->nsub = k;
      enqueue_locked (self, item);
      self->buffers_in++;
      *queued = TRUE;
    } else {
      item->nsub += k;
      cond_broadcast_locked (self);
    }
    g_mutex_unlock (&self->lock);
    done += k;
  }
  if (r < 0 && done > 0) {
    g_mutex_lock (&self->lock);
    item->truncated = TRUE;
    item->nmsg = item->nsub; /* the last write of the chain function to this item */
    cond_broadcast_locked (self);
    g_mutex_unlock (&self->lock);
  }
  return r;
}

/* The actor refused record seq of a buffer, with `status`: an error on the bus. */
static void
kernel_failed (GstRkActor *self, guint32 status, guint64 seq)
{
  GST_ELEMENT_ERROR (self, STREAM, FAILED,
      ("Kernel '%s' could not process a buffer: %s.", self->handler->name, rk_status_name (status)),
      ("record %" G_GUINT64_FORMAT, seq));
}

/* Whether the chain function takes the answer of the buffer of `size` bytes it has just submitted
 * (one record) and pushes it itself, rather than queue it for the source pad's task: when the task has
 * pushed everything before it and waits (spinning or asleep), and the buffer came (entry_ns) a while
 * after the chain function last returned: upstream sends buffers one at a time, waiting for each
 * result (an application's requests) or with pauses between them (a live source). Their answer would
 * otherwise cross to another thread, and to a task asleep a futex wake-up away (several
 * microseconds: about what a GPU actor takes to answer a small record). How long a while: for a small
 * buffer (DIRECT_SMALL_BYTES), whose answer comes within microseconds, DIRECT_GAP_SMALL_NS; for a
 * larger one DIRECT_GAP_NS, since the chain function holds upstream back while it waits, which a
 * source that has the next buffer ready soon after would feel. Buffers that come closer together go
 * to the task, so that upstream does not wait for an answer while it has more to send. When answers
 * come too late for the chain function (it hands them over after DIRECT_WAIT_NS), it leaves the next
 * 1, 2, 4, ... 256 lone buffers to the task, until one comes in time again. Called with `lock`. */
static gboolean
take_directly_locked (GstRkActor *self, guint64 entry_ns, gsize size)
{
  const guint64 gap = size <= DIRECT_SMALL_BYTES ? DIRECT_GAP_SMALL_NS : DIRECT_GAP_NS;
  if (!self->task_idle || !g_queue_is_empty (&self->items) || !g_queue_is_empty (&self->outq)
      || self->flushing || entry_ns - self->chain_done_ns < gap)
    return FALSE;
  if (self->direct_skip) {
    self->direct_skip--;
    return FALSE;
  }
  return TRUE;
}

/* Whether the answer of a buffer's record says that its K2K link was torn down under it (a neighbour
 * stopped, a flush upstream): the buffer was dropped there, as its token's push was, and is counted as
 * flushed. The item is freed then. */
static gboolean
link_torn_down (GstRkActor *self, Item *item, const rk_answer *ans)
{
  if (ans->rec.status != RK_STATUS_CLOSED && ans->rec.status != RK_STATUS_CANCELLED)
    return FALSE;
  GST_DEBUG_OBJECT (self, "record %" G_GUINT64_FORMAT ": %s", ans->rec.seq,
      rk_status_name (ans->rec.status));
  g_mutex_lock (&self->lock);
  if (!item->routed) /* a forwarded one was counted when its token went */
    self->flushed++;
  g_mutex_unlock (&self->lock);
  item_free (item);
  return TRUE;
}

/* The chain function's take of the answer of a buffer it queued as `direct`: receive it (it is the
 * next one: nothing was queued before it), and push it. An answer that has not come within
 * DIRECT_WAIT_NS (a slow kernel), a flush, or a fault hand the buffer over to the task, which pushes
 * it or says what went wrong. Returns the flow for the chain function. */
static GstFlowReturn
answer_directly (GstRkActor *self, Item *item)
{
  GstFlowReturn ret;
  rk_answer ans;
  const int r = rk_actor_receive (self->actor, &ans, DIRECT_WAIT_NS);

  g_mutex_lock (&self->lock);
  if (r < 0) {
    item->direct = FALSE;
    if (r == -ETIMEDOUT) /* slow answers: leave the next lone buffers to the task for a while */
      self->direct_skip = self->direct_backoff = CLAMP (self->direct_backoff * 2, 1, 256);
    cond_broadcast_locked (self);
    ret = self->flushing ? GST_FLOW_FLUSHING : GST_FLOW_OK;
    g_mutex_unlock (&self->lock);
    return ret;
  }
  g_assert (g_queue_peek_head (&self->items) == item && item->seq == ans.rec.seq);
  g_queue_pop_head (&self->items);
  record_rtt_locked (self, rk_now_ns () - item->submit_ns);
  self->direct_backoff = 0;
  const gboolean flushing = self->flushing;
  if (flushing)
    self->flushed++;
  if (!g_queue_is_empty (&self->items))
    cond_broadcast_locked (self); /* the task, woken for what came behind, waits for this one */
  g_mutex_unlock (&self->lock);

  if (flushing) {
    rk_actor_release_output (self->actor, ans.out_token);
    item_free (item);
    return GST_FLOW_FLUSHING;
  }
  rk_hlc_recv (&self->clock, ans.rec.hlc);
  if (ans.rec.flags & RK_REC_F_ERROR) {
    rk_actor_release_output (self->actor, ans.out_token);
    if (link_torn_down (self, item, &ans))
      return GST_FLOW_OK;
    kernel_failed (self, ans.rec.status, ans.rec.seq);
    item_free (item);
    pushed (self, 0, 0, GST_FLOW_ERROR);
    return GST_FLOW_ERROR;
  }
  /* what can wait for the push does: downstream has the result sooner */
  guint reused = 0;
  guint64 later = 0;
  GstBuffer *out = make_output (self, item, &ans, &reused, &later);
  ret = gst_pad_push (self->srcpad, out);
  rk_actor_release_output (self->actor, later);
  item_free (item);
  pushed (self, 1, reused, ret);
  return ret;
}

/* A token went downstream, which returned ret: its buffer is out, or flushed if a flush refused it.
 * Called with `lock`. */
static void
token_pushed_locked (GstRkActor *self, GstFlowReturn ret)
{
  if (ret == GST_FLOW_FLUSHING) {
    self->flushed++;
  } else {
    self->tokens_out++;
    self->buffers_out++;
  }
}

/* Queue the item of record seq, forwarded down a K2K route: its answer only says that the data went,
 * and its token carries the buffer's timestamps and flags. In the middle of a chain it wakes no one
 * (enqueue_quiet_locked ()); at the head of one the task is woken after the token's hop. Called with
 * `lock`, in record order. */
static void
queue_routed_locked (GstRkActor *self, guint64 seq)
{
  Item *item = g_new0 (Item, 1);
  item->kind = ITEM_BUFFER;
  item->seq = seq;
  item->routed = TRUE;
  if (self->link_in)
    enqueue_quiet_locked (self, item);
  else
    g_queue_push_tail (&self->items, item);
}

/* Queue the item of the forwarded record whose token the chain function is pushing at once, if that
 * is not done yet (gst_rk_actor_chain ()): anyone who queues an item for a later record calls this
 * first, so that the items stay in record order. Called with `lock`. */
static void
queue_late_locked (GstRkActor *self)
{
  if (!self->late_routed)
    return;
  queue_routed_locked (self, self->late_seq);
  self->late_routed = FALSE;
}

/* The item of a PROCESS record for buf: what its output takes from it. */
static Item *
new_buffer_item (GstBuffer *buf)
{
  Item *item = g_new0 (Item, 1);
  item->kind = ITEM_BUFFER;
  item->pts = GST_BUFFER_PTS (buf);
  item->dts = GST_BUFFER_DTS (buf);
  item->duration = GST_BUFFER_DURATION (buf);
  item->offset = GST_BUFFER_OFFSET (buf);
  item->offset_end = GST_BUFFER_OFFSET_END (buf);
  item->flags = GST_BUFFER_FLAGS (buf);
  return item;
}

static GstFlowReturn
gst_rk_actor_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstRkActor *self = GST_RK_ACTOR (parent);
  GstRkHlcMeta *meta;
  GstRkLinkMeta *lm = NULL;
  GstMapInfo map = GST_MAP_INFO_INIT;
  GstFlowReturn ret;
  rk_record rec = { 0 };
  rk_input in;
  gboolean in_place = FALSE, link_in, link_out;
  guint64 token_seq = 0;
  guint32 in_route;
  Item *item = NULL, *direct = NULL;
  gboolean routed = FALSE; /* a record forwarded down a route was submitted: routed_seq */
  guint64 routed_seq = 0;
  GstBuffer *token = NULL;
  const guint64 entry_ns = rk_now_ns ();
  int r;

  g_mutex_lock (&self->lock);
  ret = self->flushing ? GST_FLOW_FLUSHING : self->eos ? GST_FLOW_EOS : self->srcresult;
  link_in = self->link_in;
  link_out = self->link_out;
  in_route = self->in_route;
  g_mutex_unlock (&self->lock);
  if (ret != GST_FLOW_OK) {
    gst_buffer_unref (buf);
    return ret;
  }
  if (G_UNLIKELY (g_atomic_int_get (&self->move_wanted))) {
    ret = move_actor (self);
    if (ret != GST_FLOW_OK) {
      gst_buffer_unref (buf);
      return ret;
    }
  }

  if (link_in) {
    /* a token: the data is in the actor's inbox already, or on its way there */
    lm = gst_buffer_get_rk_link_meta (buf);
    if (!lm || lm->route != in_route) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
          ("A token buffer that belongs to no link of this element."),
          ("route %u, expected %u", lm ? lm->route : 0, in_route));
      gst_buffer_unref (buf);
      return GST_FLOW_ERROR;
    }
    map.size = lm->len;
    rec.flags |= RK_REC_F_FROM_INBOX;
    rec.u.desc.in_off = lm->seq;
  } else if ((in_place = !self->msg_size && gst_rk_pool_input_of (buf, self->actor, &in)
                 && gst_buffer_is_writable (buf) && gst_buffer_is_memory_range_writable (buf, 0, -1))) {
    /* Written by upstream into our own pool, and held by nobody else: the actor reads it where it
     * is. (A buffer someone else still holds is copied: its room goes back to the arena once
     * answered.) */
    map.size = in.len;
  } else if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not map an input buffer."), (NULL));
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  if (map.size % self->handler->unit || map.size > G_MAXUINT32) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Kernel '%s' takes whole %u-byte samples; got a buffer of %" G_GSIZE_FORMAT " bytes.",
            self->handler->name, self->handler->unit, map.size), (NULL));
    if (!in_place && !link_in)
      gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  if (self->msg_size && map.size % self->msg_size) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("A buffer of %" G_GSIZE_FORMAT " bytes does not hold whole %u-byte messages.", map.size,
            self->msg_size), ("message-size is %u", self->msg_size));
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }

  const gsize size = map.size; /* map is let go early when the buffer takes its result */
  meta = gst_buffer_get_rk_hlc_meta (buf);
  if (meta)
    rk_hlc_recv (&self->clock, meta->hlc);
  rec.type = RK_CMD_PROCESS;
  rec.node = self->clock.node;
  if (link_out)
    rec.flags |= RK_REC_F_TO_ROUTE;
  const GstClockTime duration = GST_BUFFER_DURATION (buf); /* buf may go on as the token */

  /* The record goes out first; the item that pairs with its answer, and the token, are made while the
   * actor works on it. */
  g_mutex_lock (&self->submit_lock);
  r = send_pending_control (self, TRUE);
  if (r == 0 && self->msg_size && size > self->msg_size) {
    gboolean queued;
    item = new_buffer_item (buf);
    r = submit_messages (self, item, &rec, map.data, (guint32) (size / self->msg_size), &queued);
    if (queued)
      item = NULL; /* the source pad's task owns it now */
    else
      g_clear_pointer (&item, g_free);
  } else if (r == 0) {
    const uint32_t out_cap = link_out ? 0 : (uint32_t) size;
    /* a forwarded record's answer is not timed */
    const guint64 submit_ns = link_out ? 0 : rk_now_ns ();
    rec.hlc = rk_hlc_tick (&self->clock);
    if (link_out)
      rec.u.desc.out_off = token_seq = self->out_seq;
    if (in_place) {
      r = rk_actor_submit_input (self->actor, &rec, &in, out_cap, -1);
      if (r == 0)
        gst_rk_pool_mark_submitted (buf);
    } else {
      r = rk_actor_submit (self->actor, &rec, link_in ? NULL : map.data, (uint32_t) size,
          out_cap, -1);
    }
    if (r == 0 && !link_out) {
      item = new_buffer_item (buf);
      item->submit_ns = submit_ns;
      item->seq = rec.seq;
      /* else the result gets a buffer of its own (make_output ()) */
      const gboolean small = !in_place && size > 0 && size <= REUSE_MAX_BYTES
          && gst_buffer_is_writable (buf);
      if (small && link_in && gst_buffer_n_memory (buf) == 0) {
        /* a token at the end of a chain, with its timestamps, flags and HLC meta: it takes the
         * result, in memory of its own, allocated now while the actor works */
        gst_buffer_remove_meta (buf, (GstMeta *) lm);
        gst_buffer_append_memory (buf, gst_allocator_alloc (NULL, size, NULL));
        GST_BUFFER_FLAG_UNSET (buf, GST_BUFFER_FLAG_TAG_MEMORY); /* as set_output_meta () leaves it */
        item->reuse = g_steal_pointer (&buf);
      } else if (small && !link_in && gst_buffer_n_memory (buf) == 1
          && !GST_MEMORY_IS_READONLY (gst_buffer_peek_memory (buf, 0))
          && gst_buffer_is_memory_range_writable (buf, 0, -1)) {
        /* the record has its copy of the data: the buffer is free to take the result. Its HLC meta
         * is added now, while the actor works (an allocation: some 0.3 us of the H100's host), and
         * stamped when the answer comes (reuse_input ()). */
        gst_buffer_unmap (buf, &map);
        item->reuse = g_steal_pointer (&buf);
        if (!meta)
          gst_buffer_add_rk_hlc_meta (item->reuse, 0, 0);
      }
    } else if (r == 0) {
      routed = TRUE; /* its item is made below, after the token's push when that is at once */
      routed_seq = rec.seq;
      self->out_seq++;
      /* what crosses the pad: the buffer's timestamps and flags, our clock's stamp, and where the
       * data is (the record it becomes in the downstream inbox). A token that came in and that
       * nobody else holds goes on itself, with new stamps: no allocation in the middle of a chain. */
      if (link_in && meta && gst_buffer_is_writable (buf)) {
        token = g_steal_pointer (&buf); /* our reference goes on with it */
        meta->hlc = rec.hlc;
        meta->node = rec.node;
        lm->route = self->out_route;
        lm->seq = token_seq;
        lm->len = (guint32) size;
      } else {
        token = gst_buffer_new ();
        gst_buffer_copy_into (token, buf, GST_BUFFER_COPY_FLAGS | GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
        gst_buffer_add_rk_hlc_meta (token, rec.hlc, rec.node);
        gst_buffer_add_rk_link_meta (token, self->out_route, token_seq, (guint32) size);
      }
    }
  }
  if (item || routed) {
    g_mutex_lock (&self->lock);
    /* a stream: the task pushes the token, and so runs the downstream chain function, while this one
     * takes the next buffer. Each element of a chain then works in a thread of its own, instead of
     * all of them one after the other in the first one's streaming thread. */
    const gboolean to_task = token && (!g_queue_is_empty (&self->outq) || self->out_pushing
        || entry_ns - self->chain_done_ns < HANDOFF_GAP_NS);
    if (routed && !to_task) {
      /* pushed at once, below: its item follows the push (queue_late_locked ()) */
      self->late_routed = TRUE;
      self->late_seq = routed_seq;
    } else if (routed) {
      queue_routed_locked (self, routed_seq);
    } else if (take_directly_locked (self, entry_ns, size)) {
      item->direct = TRUE; /* answered below; the task leaves it alone */
      g_queue_push_tail (&self->items, item);
      direct = item;
    } else
      enqueue_locked (self, item);
    self->buffers_in++;
    if (in_place)
      self->buffers_in_place++;
    if (link_in)
      self->tokens_in++;
    if (to_task) {
      GST_LOG_OBJECT (self, "token of link record %" G_GUINT64_FORMAT " to the task", token_seq);
      outq_push_locked (self, g_steal_pointer (&token));
      ret = self->flushing ? GST_FLOW_FLUSHING : self->srcresult;
    }
    g_mutex_unlock (&self->lock);
    item = NULL;
  }

  g_mutex_unlock (&self->submit_lock);

  if (token) {
    /* Pushed at once: the downstream actor queues its own record for the data while ours makes it.
     * The record's item is queued after, so that a hop of a chain waits for no more of our work than
     * the submission (an allocation, and a queue that the task reads, cost some 0.5 us there on the
     * H100's host); a command submitted meanwhile queues it first. The input is let go after, when
     * the downstream record is on its way. */
    ret = gst_pad_push (self->srcpad, token);
    g_mutex_lock (&self->lock);
    queue_late_locked (self);
    if (!link_in)
      cond_broadcast_locked (self); /* for the item queued now */
    token_pushed_locked (self, ret);
    g_mutex_unlock (&self->lock);
  }
  if (buf) {
    if (!in_place && !link_in)
      gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
  }
  if (GST_CLOCK_TIME_IS_VALID (duration) && (!GST_CLOCK_TIME_IS_VALID (self->max_duration)
          || duration > self->max_duration + self->max_duration / 100)) {
    /* what the ring can hold, in time, grew: so did the latency we report (durations that differ
     * by rounding alone do not count) */
    GST_OBJECT_LOCK (self);
    self->max_duration = duration;
    GST_OBJECT_UNLOCK (self);
    gst_element_post_message (GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
  }

  if (r < 0) {
    if (r == -EMSGSIZE) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
          ("A buffer of %" G_GSIZE_FORMAT " bytes is larger than the actor's arena.", size),
          ("raise arena-size (now %" G_GUINT64_FORMAT ")", self->run_arena));
      return GST_FLOW_ERROR;
    }
    if (r == -EINTR) {
      /* a flush, or the source pad's task stopped on an error */
      g_mutex_lock (&self->lock);
      ret = self->flushing ? GST_FLOW_FLUSHING : self->srcresult;
      g_mutex_unlock (&self->lock);
      return ret == GST_FLOW_OK ? GST_FLOW_FLUSHING : ret;
    }
    return gst_rk_flow_from_errno (GST_ELEMENT (self), self->actor, r, "accepting a buffer");
  }
  if (direct)
    ret = answer_directly (self, direct);
  self->chain_done_ns = rk_now_ns ();
  return ret;
}

static GstFlowReturn
gst_rk_actor_chain_list (GstPad *pad, GstObject *parent, GstBufferList *list)
{
  GstFlowReturn ret = GST_FLOW_OK;
  guint n = gst_buffer_list_length (list);

  /* each buffer is its own record; the list saves the pad traffic on both sides */
  for (guint i = 0; i < n && ret == GST_FLOW_OK; i++)
    ret = gst_rk_actor_chain (pad, parent, gst_buffer_ref (gst_buffer_list_get (list, i)));
  gst_buffer_list_unref (list);
  return ret;
}

/* A serialized event dropped by a flush: a sticky one other than segment and EOS stays on the source
 * pad. */
static void
keep_sticky_event (GstRkActor *self, GstEvent *event)
{
  if (GST_EVENT_IS_STICKY (event) && GST_EVENT_TYPE (event) != GST_EVENT_SEGMENT
      && GST_EVENT_TYPE (event) != GST_EVENT_EOS)
    gst_pad_store_sticky_event (self->srcpad, event);
}

/* Keep the sticky events of a flushed queue on the source pad, so that data after the flush still
 * finds its caps (as queue does); drop the rest. Called with `lock`. */
static void
discard_items_locked (GstRkActor *self)
{
  queue_late_locked (self); /* (a flush from within the push of its token) */
  GList *l = self->items.head;
  while (l) {
    GList *next = l->next;
    Item *item = l->data;
    if (item->kind == ITEM_EVENT || item->kind == ITEM_EOS) {
      if (item->event)
        keep_sticky_event (self, item->event);
      gst_clear_event (&item->event);
    }
    if (item->kind == ITEM_EVENT) {
      g_queue_delete_link (&self->items, l);
      item_free (item);
    } else {
      item->discard = TRUE; /* its answer is still to come: consume it, push nothing */
    }
    l = next;
  }
}

/* Drop what was handed to the task to push and has not gone (a flush, a stop): tokens count as
 * flushed; at a flush (keep_sticky), sticky events other than segment and EOS stay on the pad, as in
 * discard_items_locked (). Called with `lock`. */
static void
discard_out_locked (GstRkActor *self, gboolean keep_sticky)
{
  GstMiniObject *o;
  while ((o = g_queue_pop_head (&self->outq))) {
    if (GST_IS_BUFFER (o)) {
      self->flushed++;
    } else if (keep_sticky) {
      keep_sticky_event (self, GST_EVENT_CAST (o));
    }
    gst_mini_object_unref (o);
  }
}

/* The running handler, or the one the properties name. Called with the object lock. */
static const rk_handler *
handler_locked (GstRkActor *self)
{
  if (self->handler)
    return self->handler;
  return self->kernel_file ? rk_handler_user () : rk_handler_find (self->kernel);
}

static gboolean
accept_caps (GstRkActor *self, GstCaps *caps)
{
  GstCaps *hcaps;
  gboolean ok;

  GST_OBJECT_LOCK (self);
  const rk_handler *h = handler_locked (self);
  GST_OBJECT_UNLOCK (self);
  if (!h)
    return FALSE;
  hcaps = gst_caps_from_string (h->caps);
  ok = gst_caps_is_subset (caps, hcaps);
  if (!ok)
    GST_WARNING_OBJECT (self, "refusing caps %" GST_PTR_FORMAT ": kernel '%s' takes %s", caps,
        h->name, h->caps);
  gst_caps_unref (hcaps);
  return ok;
}

/* ---- K2K negotiation ---- */

static gboolean
caps_have_link (GstCaps *caps)
{
  GstCapsFeatures *f = gst_caps_is_empty (caps) || gst_caps_is_any (caps) ? NULL
                                                                          : gst_caps_get_features (caps, 0);
  return f && gst_caps_features_contains (f, GST_CAPS_FEATURE_MEMORY_RK_LINK);
}

/* The caps, as tokens of a link (or as data in system memory). */
static GstCaps *
caps_with_link (GstCaps *caps, gboolean link)
{
  GstCaps *c = gst_caps_copy (caps);
  for (guint i = 0; i < gst_caps_get_size (c); i++)
    gst_caps_set_features (c, i, gst_caps_features_new (link ? GST_CAPS_FEATURE_MEMORY_RK_LINK
                                     : GST_CAPS_FEATURE_MEMORY_SYSTEM_MEMORY, NULL));
  return c;
}

/* Wait until everything queued for the source pad has been pushed (or the task stopped). */
static void
wait_items_pushed (GstRkActor *self)
{
  g_mutex_lock (&self->lock);
  while (!self->flushing && self->srcresult == GST_FLOW_OK
      && !(self->task_idle && g_queue_is_empty (&self->items) && g_queue_is_empty (&self->outq)
          && !self->out_pushing)) {
    if (!g_queue_is_empty (&self->items))
      cond_broadcast_locked (self); /* forwarded records' answers may be waiting for the task */
    cond_wait_locked (self);
  }
  g_mutex_unlock (&self->lock);
}

/* ---- moving the actor ---- */

#define LINKED_REFUSAL "it is K2K-linked to a neighbour, whose route points at its memory (link=host " \
  "on either side lets it move)"

/* Whether a neighbour's route points at the actor's memory, or ours at the neighbour's. Called with
 * `lock`. */
static gboolean
linked_locked (GstRkActor *self)
{
  return self->link_in || self->link_out || self->in_route;
}

/* A change of backend, device-id, ring-size or arena-size while the actor runs moves it. A thread of
 * its own (move_launcher ()) starts a new actor with the new settings at once, while the old one goes
 * on serving. Before its next buffer the streaming thread waits for what remains of that start, then
 * the old actor takes a snapshot of its state (a SNAPSHOT record behind everything sent to it, so that
 * every buffer before it has been answered, and pushed, when the snapshot comes back: both rings are
 * empty), the new one restores it, and the new one takes over. Nothing is lost or repeated; where the
 * start was over before the next buffer came, the stream waits for the snapshot and the restore only.
 * A move that cannot be made leaves the actor where it was, with a warning. */

static void
launched_clear (GstRkActor *self, Launched *l)
{
  if (l->actor)
    end_actor (self, l->actor);
  g_free (l->error);
  memset (l, 0, sizeof *l);
}

/* Resolve the settings asked for now, and start an actor there (l->actor), or say why not
 * (l->error); neither when the settings ask for where the actor runs already, or none runs. */
static void
launch_for_move (GstRkActor *self, Launched *l)
{
  GstRkBackend backend;
  double values[RK_MAX_PARAMS];
  char why[1024] = "";

  GST_OBJECT_LOCK (self);
  backend = self->backend;
  l->device_id = self->device_id;
  l->ring_size = self->ring_size;
  l->arena_size = self->arena_size;
  GST_OBJECT_UNLOCK (self);
  g_mutex_lock (&self->lock);
  const rk_backend_ops *from = self->actor ? rk_actor_backend (self->actor) : NULL;
  const gboolean same = self->run_ring == l->ring_size && self->run_arena == l->arena_size;
  const gint from_device = self->run_device;
  const gboolean linked = linked_locked (self);
  memcpy (values, self->values, sizeof values);
  l->generation = self->moves;
  g_mutex_unlock (&self->lock);

  /* the element's handler and start-time settings stay while it runs: its stop waits for this */
  if (!from)
    return;
  if ((l->error = check_sizes (self->handler, l->ring_size, l->arena_size, self->msg_size)))
    return;
  if (!(l->ops = gst_rk_resolve_backend (GST_ELEMENT (self), backend, &l->device_id, &l->error)))
    return;
  if (l->ops == from && l->device_id == from_device && same)
    return; /* it is there already */
  if (linked) {
    l->error = g_strdup (LINKED_REFUSAL);
    return;
  }
  const guint64 t0 = rk_now_ns ();
  if (launch_actor (self, self->handler, l->ops, l->device_id, l->ring_size, l->arena_size, values,
          self->clock.node | 1, &l->actor, why, sizeof why) < 0)
    l->error = g_strdup_printf ("could not start a %s actor there: %s", l->ops->name, why);
  l->launch_ns = rk_now_ns () - t0;
}

#define MOVE_SETTLE_US 50 /* settings set one after another (backend, then ring-size) make one move */
#define MOVE_SETTLE_MAX_US 1000

/* The launcher thread: starts an actor for the newest settings, and again while they change. It
 * starts once no setting has changed for MOVE_SETTLE_US (at most MOVE_SETTLE_MAX_US), and ends the
 * actors that newer settings made useless after its last start. */
static gpointer
move_launcher (gpointer data)
{
  GstRkActor *self = data;
  GSList *stale = NULL;

  g_mutex_lock (&self->move_lock);
again:
  while (!self->move_closed && self->launched_for != self->move_version) {
    const gint64 latest = g_get_monotonic_time () + MOVE_SETTLE_MAX_US;
    guint v;
    do { /* request_move () signals each change */
      v = self->move_version;
      g_cond_wait_until (&self->move_cond, &self->move_lock,
          MIN (g_get_monotonic_time () + MOVE_SETTLE_US, latest));
    } while (v != self->move_version && !self->move_closed && g_get_monotonic_time () < latest);
    Launched l = { .version = self->move_version, .valid = TRUE };
    g_mutex_unlock (&self->move_lock);
    launch_for_move (self, &l);
    g_mutex_lock (&self->move_lock);
    if (self->launched.valid) /* nobody took it */
      stale = g_slist_prepend (stale, g_memdup2 (&self->launched, sizeof self->launched));
    self->launched = l;
    self->launched_for = l.version;
    g_cond_broadcast (&self->move_cond); /* for a streaming thread that waits for it */
  }
  if (stale) { /* ended before the launcher is done, so that the element's stop waits for them too */
    g_mutex_unlock (&self->move_lock);
    for (GSList *i = stale; i; i = i->next)
      launched_clear (self, i->data);
    g_slist_free_full (g_steal_pointer (&stale), g_free);
    g_mutex_lock (&self->move_lock);
    goto again;
  }
  self->launching = FALSE;
  g_cond_broadcast (&self->move_cond);
  g_mutex_unlock (&self->move_lock);
  gst_object_unref (self);
  return NULL;
}

/* A setting that moves the actor changed: start the new actor now, and have the streaming thread
 * hand over before its next buffer. */
static void
request_move (GstRkActor *self)
{
  g_mutex_lock (&self->move_lock);
  self->move_version++;
  g_cond_broadcast (&self->move_cond); /* a launcher waiting for the settings to settle waits on */
  if (!self->launching && !self->move_closed) {
    GThread *t = g_thread_try_new ("rkactor-move", move_launcher, gst_object_ref (self), NULL);
    if (t) {
      self->launching = TRUE;
      g_thread_unref (t);
    } else {
      gst_object_unref (self); /* the streaming thread starts it itself */
    }
  }
  g_mutex_unlock (&self->move_lock);
  g_atomic_int_set (&self->move_wanted, 1); /* read before the next buffer, if the actor runs */
}

/* Wait for the launcher thread to end, and end what it started. */
static void
close_moves (GstRkActor *self, gboolean closed)
{
  Launched stale;

  g_mutex_lock (&self->move_lock);
  self->move_closed = TRUE;
  while (self->launching)
    g_cond_wait (&self->move_cond, &self->move_lock);
  stale = self->launched;
  memset (&self->launched, 0, sizeof self->launched);
  self->move_closed = closed;
  g_mutex_unlock (&self->move_lock);
  launched_clear (self, &stale);
}

/* The handover, by the streaming thread before a buffer. */
static GstFlowReturn
move_actor (GstRkActor *self)
{
  gint device_id;
  guint ring_size;
  guint64 arena_size;
  const rk_backend_ops *ops = NULL, *from = rk_actor_backend (self->actor);
  const gint from_device = self->run_device;
  rk_actor *fresh = NULL, *old = NULL;
  GBytes *cp = NULL;
  gchar *error = NULL;
  GstFlowReturn ret = GST_FLOW_OK;
  Launched l = { 0 };
  double values[RK_MAX_PARAMS];
  int r;

  g_atomic_int_set (&self->move_wanted, 0);
  const guint64 t_start = rk_now_ns ();
  g_mutex_lock (&self->move_lock);
  const gboolean ahead = self->launched.valid; /* started, and nothing to wait for */
  while (self->launching && !self->launched.valid) /* what remains of the start under way */
    g_cond_wait (&self->move_cond, &self->move_lock);
  l = self->launched;
  memset (&self->launched, 0, sizeof self->launched);
  if (self->launching || (l.valid && l.version != self->move_version))
    g_atomic_int_set (&self->move_wanted, 1); /* newer settings make another move, at a later buffer */
  g_mutex_unlock (&self->move_lock);
  if (l.valid && !l.actor && !l.error && l.generation != self->moves) {
    /* "there already" was said of an actor that a move has replaced since: ask again */
    memset (&l, 0, sizeof l);
  }
  if (!l.valid) /* no thread could be started for it, or see above */
    launch_for_move (self, &l);
  if (!l.actor && !l.error)
    return GST_FLOW_OK; /* it is there already */
  fresh = l.actor;
  ops = l.ops;
  device_id = l.device_id;
  ring_size = l.ring_size;
  arena_size = l.arena_size;
  error = l.error;
  g_mutex_lock (&self->lock);
  memcpy (values, self->values, sizeof values);
  if (!error && linked_locked (self)) /* linked while it started */
    error = g_strdup (LINKED_REFUSAL);
  g_mutex_unlock (&self->lock);
  if (error)
    goto refused;

  /* the new actor runs: from here until it takes over, the old one serves nothing new */
  const guint64 t0 = rk_now_ns ();
  g_mutex_lock (&self->submit_lock);
  r = send_pending_control (self, TRUE); /* what the old actor was to be told, it is told first */
  /* room for the snapshot: what the state may need, up to 64 KiB; a larger state answers how much it
   * needs, and a second snapshot (of the same state: nothing was sent in between) gets that. Room for
   * the whole bound could wait forever on output buffers that downstream holds. */
  guint64 room = MIN (sizeof (rk_checkpoint) + rk_handler_state_size (self->handler, values), 65536);
  guint32 status = RK_STATUS_OK;
  gboolean done = FALSE;
  for (guint attempt = 0; r == 0 && attempt < 2; attempt++) {
    g_mutex_lock (&self->lock);
    g_clear_pointer (&self->checkpoint, g_bytes_unref);
    self->checkpoint_done = FALSE;
    self->checkpoint_status = RK_STATUS_OK;
    g_mutex_unlock (&self->lock);
    if (room > self->run_arena) {
      status = RK_STATUS_TOO_LARGE;
      break;
    }
    r = submit_command (self, RK_CMD_SNAPSHOT, 0, 0, NULL, 0, (guint32) room, -1);
    if (r == 0)
      wait_items_pushed (self); /* every answer before the snapshot has gone downstream */
    g_mutex_lock (&self->lock);
    done = r == 0 && self->checkpoint_done;
    status = self->checkpoint_status;
    cp = g_steal_pointer (&self->checkpoint);
    if (!done)
      ret = self->flushing ? GST_FLOW_FLUSHING : self->srcresult;
    const guint64 need = self->checkpoint_need;
    g_mutex_unlock (&self->lock);
    if (!done || status != RK_STATUS_TOO_LARGE || need <= room)
      break;
    room = need;
  }
  if (!done && status == RK_STATUS_OK) {
    /* a flush or an error came first: the old actor stays, its state untouched */
    g_mutex_unlock (&self->submit_lock);
    if (r < 0 && r != -EINTR)
      ret = gst_rk_flow_from_errno (GST_ELEMENT (self), self->actor, r, "taking a snapshot");
    end_actor (self, fresh);
    g_clear_pointer (&cp, g_bytes_unref);
    return ret == GST_FLOW_OK ? GST_FLOW_FLUSHING : ret;
  }
  if (status != RK_STATUS_OK) {
    g_mutex_unlock (&self->submit_lock);
    error = g_strdup_printf ("the %s actor could not take a snapshot of its state: %s%s", from->name,
        rk_status_name (status), status == RK_STATUS_TOO_LARGE ? " (raise arena-size)" : "");
    goto refused;
  }

  /* the new actor is not the task's yet: this thread reads its answer to the restore */
  rk_record rec = { 0 };
  rk_answer ans;
  gsize cp_len;
  const void *cp_data = g_bytes_get_data (cp, &cp_len);
  rec.type = RK_CMD_RESTORE;
  rec.hlc = rk_hlc_tick (&self->clock);
  rec.node = self->clock.node;
  r = rk_actor_submit (fresh, &rec, cp_data, (uint32_t) cp_len, 0, STOP_TIMEOUT_NS);
  if (r == 0)
    r = rk_actor_receive (fresh, &ans, STOP_TIMEOUT_NS);
  if (r == 0) {
    rk_actor_release_output (fresh, ans.out_token);
    rk_hlc_recv (&self->clock, ans.rec.hlc);
  }
  if (r < 0 || (ans.rec.flags & RK_REC_F_ERROR)) {
    g_mutex_unlock (&self->submit_lock);
    error = r < 0 ? g_strdup_printf ("the new actor did not restore the snapshot (%s)", g_strerror (-r))
                  : g_strdup_printf ("the new actor refused the snapshot: %s",
                        rk_status_name (ans.rec.status));
    goto refused;
  }

  g_mutex_lock (&self->lock);
  if (self->flushing) {
    g_mutex_unlock (&self->lock);
    g_mutex_unlock (&self->submit_lock);
    end_actor (self, fresh);
    g_bytes_unref (cp);
    return GST_FLOW_FLUSHING;
  }
  old = self->actor;
  self->actor = fresh;
  self->run_device = device_id;
  self->run_ring = ring_size;
  self->run_arena = arena_size;
  self->wanted_run = self->run_cmd; /* it starts as the old one did: paused or running as asked */
  self->moves++;
  const guint64 handover = rk_now_ns () - t0;
  g_mutex_unlock (&self->lock);
  r = send_pending_control (self, TRUE);
  g_mutex_unlock (&self->submit_lock);
  g_bytes_unref (cp);

  end_actor (self, old); /* everything it was sent has been answered: it ends at once */
  const guint64 pause = rk_now_ns () - t_start;
  g_mutex_lock (&self->lock);
  self->move_pause_ns = pause;
  g_mutex_unlock (&self->lock);
  GST_INFO_OBJECT (self, "moved from %s device %d to %s device %d (ring %u, arena %" G_GUINT64_FORMAT
      "): the stream waited %.1f us, %.1f us of it for the handover", from->name, from_device,
      ops->name, device_id, ring_size, arena_size, pause / 1e3, handover / 1e3);

  gst_element_post_message (GST_ELEMENT (self), gst_message_new_have_context (GST_OBJECT (self),
          gst_rk_device_context_new (ops->name, device_id)));
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("rkactor-moved", "from-backend", G_TYPE_STRING, from->name,
              "from-device-id", G_TYPE_INT, from_device, "backend", G_TYPE_STRING, ops->name,
              "device-id", G_TYPE_INT, device_id, "ring-size", G_TYPE_UINT, ring_size, "arena-size",
              G_TYPE_UINT64, arena_size, "pause-us", G_TYPE_DOUBLE, pause / 1e3, "launch-us",
              G_TYPE_DOUBLE, l.launch_ns / 1e3, "started-ahead", G_TYPE_BOOLEAN, ahead,
              "waited-launch-us", G_TYPE_DOUBLE, (t0 - t_start) / 1e3, "handover-us", G_TYPE_DOUBLE,
              handover / 1e3, NULL)));
  /* the ring's length is part of the latency; a pool upstream holds the old actor's memory */
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
  gst_pad_push_event (self->sinkpad, gst_event_new_reconfigure ());
  return GST_FLOW_OK;

refused:
  if (g_str_has_suffix (error, "."))
    error[strlen (error) - 1] = '\0';
  GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("The actor stays on %s device %d: %s.", from->name,
          from_device, error), (NULL));
  g_free (error);
  g_clear_pointer (&cp, g_bytes_unref);
  if (fresh)
    end_actor (self, fresh);
  return GST_FLOW_OK;
}

/* Downstream side: an upstream actor asks for a route to our inbox. Only the element right upstream
 * gets one (an element in between would need the data itself), on the same backend. The path follows
 * from where the two actors run (rk_link_choose ()): one device, two with peer access, or two without
 * (staged, through host memory); link=staged on either side asks for the staged path. */
static gboolean
answer_link_query (GstRkActor *self, GstQuery *query)
{
  GstStructure *s = gst_query_writable_structure (query);
  gpointer upstream = NULL, from = NULL;
  gboolean staged = FALSE;
  GstObject *neighbour = NULL;
  const gchar *why = NULL;
  gchar path_why[200] = "";
  rk_link_path path = RK_LINK_HOST;
  rk_route rt;

  if (!gst_structure_has_name (s, GST_RK_LINK_QUERY))
    return FALSE;
  gst_structure_get (s, "upstream", G_TYPE_POINTER, &upstream, "upstream-actor", G_TYPE_POINTER, &from,
      "staged", G_TYPE_BOOLEAN, &staged, NULL);
  GST_OBJECT_LOCK (self);
  GstRkLinkMode mode = self->link;
  GST_OBJECT_UNLOCK (self);
  GstPad *peer = gst_pad_get_peer (self->sinkpad);
  if (peer) {
    neighbour = gst_pad_get_parent (peer);
    gst_object_unref (peer);
  }

  g_mutex_lock (&self->lock);
  if (mode == GST_RK_LINK_HOST)
    why = "link=host";
  else if (!neighbour || (gpointer) neighbour != upstream || !from)
    why = "not asked by the element right upstream";
  else if (!self->actor)
    why = "not started";
  else if ((path = rk_actor_link_path (from, self->actor, staged || mode == GST_RK_LINK_STAGED,
                path_why, sizeof path_why)) == RK_LINK_HOST)
    why = path_why;
  else if (!rk_actor_inbox_route (self->actor, path, self->routes + 1, &rt))
    why = "no inbox for that path (out of memory)";
  if (!why) {
    self->in_route = ++self->routes;
    self->in_path = path;
    self->in_inbox = rt;
    GBytes *b = g_bytes_new (&rt, sizeof rt); /* every field of it (gst_rk_query_route ()) */
    gst_structure_set (s, "route", G_TYPE_BYTES, b, "path", G_TYPE_UINT, (guint) path, "actor",
        G_TYPE_POINTER, rk_actor_ref (self->actor), NULL);
    g_bytes_unref (b);
  }
  g_mutex_unlock (&self->lock);
  if (why)
    GST_DEBUG_OBJECT (self, "no K2K route for %" GST_PTR_FORMAT ": %s", upstream, why);
  else
    GST_INFO_OBJECT (self, "K2K: gave route %u to our inbox to %" GST_PTR_FORMAT ", path %s (%s)",
        rt.route_id, upstream, rk_link_path_name (path), path_why);
  if (neighbour)
    gst_object_unref (neighbour);
  return why == NULL;
}

/* Upstream side, when caps are set: ask the downstream neighbour for a route to its inbox. Returns its
 * actor (a reference for us), the route and its path, or NULL: the host path. */
static rk_actor *
query_route (GstRkActor *self, rk_route *rt, rk_link_path *path)
{
  GstRkLinkMode mode;
  rk_route probe;

  GST_OBJECT_LOCK (self);
  mode = self->link;
  GST_OBJECT_UNLOCK (self);
  if (mode == GST_RK_LINK_HOST || !self->actor
      || !rk_actor_inbox_route (self->actor, RK_LINK_DEVICE, 0, &probe))
    return NULL;

  return gst_rk_query_route (GST_ELEMENT (self), self->srcpad, self->actor, mode, rt, path);
}

/* Upstream side, once everything sent before has left: install the route (the LINK command) to the
 * downstream actor `peer`, or take the host path (peer NULL). A route in place before is replaced or
 * removed. Returns whether data now leaves down a route. */
static gboolean
install_route (GstRkActor *self, rk_actor *peer, const rk_route *rt, rk_link_path path)
{
  rk_actor *old;
  int r = 0;

  g_mutex_lock (&self->submit_lock);
  old = self->peer; /* every record sent on the old route has been answered: it is unused */
  if (peer) {
    r = submit_command (self, RK_CMD_LINK, 0, 0, rt, sizeof *rt, 0, -1);
  } else if (self->link_out) {
    /* no route any more (an unused one left behind, should this fail, does no harm) */
    rk_route none;
    memset (&none, 0, sizeof none);
    submit_command (self, RK_CMD_LINK, 0, 0, &none, sizeof none, 0, -1);
  }
  g_mutex_lock (&self->lock);
  self->peer = r == 0 ? peer : NULL;
  self->link_out = self->peer != NULL;
  self->out_path = self->link_out ? path : RK_LINK_HOST;
  if (self->link_out) {
    self->out_route = rt->route_id;
    self->out_seq = (guint64) rt->route_id << 40;
  }
  g_mutex_unlock (&self->lock);
  g_mutex_unlock (&self->submit_lock);
  if (old)
    rk_actor_unref (old);
  if (peer && r < 0)
    rk_actor_unref (peer);
  if (self->link_out)
    GST_INFO_OBJECT (self, "K2K: data leaves down route %u into the downstream actor's inbox, path "
        "%s: %s", rt->route_id, rk_link_path_name (path), path == RK_LINK_DEVICE
            ? "it stays on the device" : path == RK_LINK_PEER
            ? "GPU to GPU, by peer access" : "through host memory that both devices map, no host copy");
  return self->link_out;
}

/* Downstream side, when tokens start to come: the actor reads the inbox that the route offered writes
 * into (RK_CMD_INBOX), where that is not the one it reads already. Everything before has been
 * answered. Called with submit_lock; false when the command could not be sent. */
static gboolean
read_inbox (GstRkActor *self)
{
  g_mutex_lock (&self->lock);
  const rk_link_path want = self->in_path, have = self->inbox_path; /* tokens came: a route was given */
  const rk_route inbox = self->in_inbox;
  g_mutex_unlock (&self->lock);
  if (want == have)
    return TRUE;
  /* a refusal comes back to the source pad's task, which then stops the stream with an error */
  int r = submit_command (self, RK_CMD_INBOX, 0, 0, &inbox, sizeof inbox, 0, -1);
  if (r == -EINTR) {
    GST_DEBUG_OBJECT (self, "flushing: the caps that start the route's tokens are refused");
    return FALSE;
  }
  if (r < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("Cannot point the actor at its K2K inbox."),
        ("RK_CMD_INBOX: %s", g_strerror (-r)));
    return FALSE;
  }
  g_mutex_lock (&self->lock);
  self->inbox_path = want;
  g_mutex_unlock (&self->lock);
  GST_INFO_OBJECT (self, "K2K: the actor reads its inbox %s now", want == RK_LINK_STAGED
      ? "in host memory" : want == RK_LINK_PEER ? "at system scope" : "in device memory");
  return TRUE;
}

static gboolean
gst_rk_actor_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstRkActor *self = GST_RK_ACTOR (parent);
  Item *item;
  int r;

  GST_LOG_OBJECT (self, "event %" GST_PTR_FORMAT, event);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      gst_pad_push_event (self->srcpad, event);
      g_mutex_lock (&self->lock);
      self->flushing = TRUE;
      if (self->actor)
        rk_actor_interrupt (self->actor, TRUE); /* ends every wait: chain, task */
      cond_broadcast_locked (self);
      g_mutex_unlock (&self->lock);
      gst_pad_pause_task (self->srcpad);
      return TRUE;

    case GST_EVENT_FLUSH_STOP:
      g_mutex_lock (&self->lock);
      discard_items_locked (self);
      discard_out_locked (self, TRUE);
      self->flushing = FALSE;
      self->eos = FALSE;
      self->srcresult = GST_FLOW_OK;
      if (self->actor)
        rk_actor_interrupt (self->actor, FALSE);
      g_mutex_unlock (&self->lock);
      gst_pad_push_event (self->srcpad, event);
      if (self->actor)
        gst_pad_start_task (self->srcpad, (GstTaskFunction) gst_rk_actor_loop, self->srcpad, NULL);
      return TRUE;

    case GST_EVENT_CAPS: {
      GstCaps *caps, *plain, *out;
      gst_event_parse_caps (event, &caps);
      const gboolean tokens = caps_have_link (caps);
      plain = tokens ? caps_with_link (caps, FALSE) : gst_caps_ref (caps);
      g_mutex_lock (&self->lock);
      const guint32 offered = self->in_route;
      const gboolean started = self->actor != NULL;
      g_mutex_unlock (&self->lock);
      if ((tokens && !offered) || !started || !accept_caps (self, plain)) {
        gst_caps_unref (plain);
        gst_event_unref (event);
        return FALSE;
      }
      rk_route rt;
      rk_link_path path = RK_LINK_HOST;
      rk_actor *peer = query_route (self, &rt, &path);
      g_mutex_lock (&self->lock);
      const gboolean change = tokens != self->link_in || peer || self->link_out;
      g_mutex_unlock (&self->lock);
      /* how data comes in or leaves changes: what came before leaves first, the old way */
      if (change) {
        wait_items_pushed (self);
        g_mutex_lock (&self->submit_lock);
        if (tokens && !read_inbox (self)) {
          g_mutex_unlock (&self->submit_lock);
          if (peer)
            rk_actor_unref (peer);
          gst_caps_unref (plain);
          gst_event_unref (event);
          return FALSE;
        }
        g_mutex_lock (&self->lock);
        self->link_in = tokens;
        g_mutex_unlock (&self->lock);
        g_mutex_unlock (&self->submit_lock);
        if (tokens)
          GST_INFO_OBJECT (self, "K2K: data comes in on route %u, into our inbox (path %s)", offered,
              rk_link_path_name (self->in_path));
      }
      out = change && install_route (self, peer, &rt, path) ? caps_with_link (plain, TRUE)
                                                             : gst_caps_ref (plain);
      guint32 seqnum = gst_event_get_seqnum (event);
      gst_event_unref (event);
      event = gst_event_new_caps (out);
      gst_event_set_seqnum (event, seqnum);
      gst_caps_unref (out);
      gst_caps_unref (plain);
      break;
    }
    default:
      break;
  }

  if (!GST_EVENT_IS_SERIALIZED (event))
    return gst_pad_push_event (self->srcpad, event);

  g_mutex_lock (&self->lock);
  if (self->flushing || !self->actor) {
    g_mutex_unlock (&self->lock);
    gst_event_unref (event);
    return FALSE;
  }
  const gboolean tokens = self->link_out;
  if (tokens && GST_EVENT_TYPE (event) == GST_EVENT_EOS)
    self->eos = TRUE;
  if (tokens && !g_queue_is_empty (&self->items))
    cond_broadcast_locked (self); /* answers of forwarded records: read them now */
  if (tokens && (!g_queue_is_empty (&self->outq) || self->out_pushing)) {
    /* behind tokens the task has still to push */
    outq_push_locked (self, event);
    g_mutex_unlock (&self->lock);
    return TRUE;
  }
  g_mutex_unlock (&self->lock);
  if (tokens) {
    /* tokens leave from the chain function: these events go with them, in order. EOS need not wait
     * for our actor: the downstream actor's own records wait for the data that is still coming. */
    return gst_pad_push_event (self->srcpad, event);
  }

  item = g_new0 (Item, 1);
  item->event = event;
  if (GST_EVENT_TYPE (event) != GST_EVENT_EOS) {
    /* ordered with the data: pushed when the answers before it have been */
    item->kind = ITEM_EVENT;
    g_mutex_lock (&self->lock);
    enqueue_locked (self, item);
    g_mutex_unlock (&self->lock);
    return TRUE;
  }

  /* EOS: a drain fence, answered once every record before it is answered */
  rk_record rec = { 0 };
  rec.type = RK_CMD_DRAIN;
  item->kind = ITEM_EOS;
  item->cmd = RK_CMD_DRAIN;
  g_mutex_lock (&self->submit_lock);
  rec.hlc = rk_hlc_tick (&self->clock);
  rec.node = self->clock.node;
  r = rk_actor_submit (self->actor, &rec, NULL, 0, 0, -1);
  if (r == 0) {
    item->seq = rec.seq;
    item->submit_ns = rk_now_ns ();
    g_mutex_lock (&self->lock);
    enqueue_locked (self, item);
    self->eos = TRUE;
    g_mutex_unlock (&self->lock);
  }
  g_mutex_unlock (&self->submit_lock);
  if (r < 0) {
    item_free (item);
    if (r != -EINTR)
      gst_rk_flow_from_errno (GST_ELEMENT (self), self->actor, r, "draining for EOS");
    return FALSE;
  }
  return TRUE;
}

static GstCaps *
query_caps (GstRkActor *self, GstPad *pad, GstCaps *filter)
{
  GstPad *other = pad == self->srcpad ? self->sinkpad : self->srcpad;
  GstCaps *peer, *hcaps, *result;

  GST_OBJECT_LOCK (self);
  const rk_handler *h = handler_locked (self);
  GST_OBJECT_UNLOCK (self);
  hcaps = gst_caps_from_string (h ? h->caps : "ANY");
  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, hcaps, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (hcaps);
    hcaps = tmp;
  }
  peer = gst_pad_peer_query_caps (other, hcaps);
  result = gst_caps_intersect_full (peer, hcaps, GST_CAPS_INTERSECT_FIRST);
  gst_caps_unref (peer);
  gst_caps_unref (hcaps);
  return result;
}

/* A neighbour asks where this actor runs (a "ringkernel.device" context). */
static gboolean
answer_context (GstRkActor *self, GstQuery *query)
{
  const gchar *type = NULL;
  gboolean ok = FALSE;

  gst_query_parse_context_type (query, &type);
  if (g_strcmp0 (type, GST_RK_DEVICE_CONTEXT) != 0)
    return FALSE;
  g_mutex_lock (&self->lock);
  if (self->actor) {
    GstContext *context = gst_rk_device_context_new (rk_actor_backend (self->actor)->name,
        self->run_device);
    gst_query_set_context (query, context);
    gst_context_unref (context);
    ok = TRUE;
  }
  g_mutex_unlock (&self->lock);
  return ok;
}

static gboolean
gst_rk_actor_sink_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstRkActor *self = GST_RK_ACTOR (parent);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS: {
      GstCaps *filter, *caps;
      gst_query_parse_caps (query, &filter);
      caps = query_caps (self, pad, filter);
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    }
    case GST_QUERY_ACCEPT_CAPS: {
      GstCaps *caps;
      gst_query_parse_accept_caps (query, &caps);
      if (caps_have_link (caps)) {
        /* tokens: only from the element that we gave a route (what leaves here is decided when
         * the caps are set) */
        GstCaps *plain = caps_with_link (caps, FALSE);
        g_mutex_lock (&self->lock);
        gboolean offered = self->in_route != 0;
        g_mutex_unlock (&self->lock);
        gst_query_set_accept_caps_result (query, offered && accept_caps (self, plain));
        gst_caps_unref (plain);
        return TRUE;
      }
      gst_query_set_accept_caps_result (query,
          accept_caps (self, caps) && gst_pad_peer_query_accept_caps (self->srcpad, caps));
      return TRUE;
    }
    case GST_QUERY_CUSTOM:
      if (answer_link_query (self, query))
        return TRUE;
      return FALSE; /* a custom query is for this element or nobody */
    case GST_QUERY_CONTEXT:
      if (answer_context (self, query))
        return TRUE;
      return gst_pad_query_default (pad, parent, query);
    case GST_QUERY_ALLOCATION: {
      /* For raw video, whose frames have a known size, propose a pool of the actor's own input memory
       * (pinned and GPU-visible on CUDA): upstream then writes where the actor reads. Otherwise, or if
       * upstream prefers its own, buffers are copied into the arena. */
      GstCaps *caps;
      gboolean need_pool;
      GstVideoInfo info;
      rk_actor *actor;

      gst_query_parse_allocation (query, &caps, &need_pool);
      g_mutex_lock (&self->lock);
      actor = self->actor ? rk_actor_ref (self->actor) : NULL;
      const guint64 arena = self->run_arena;
      g_mutex_unlock (&self->lock);
      if (actor && !self->msg_size && caps && gst_video_info_from_caps (&info, caps)
          && GST_VIDEO_INFO_SIZE (&info) > 0 && GST_VIDEO_INFO_SIZE (&info) <= arena / 2) {
        GstBufferPool *pool = gst_rk_pool_new (actor);
        GstStructure *config = gst_buffer_pool_get_config (pool);
        guint size = (guint) GST_VIDEO_INFO_SIZE (&info);
        /* no minimum: a buffer waiting in a pool would hold room in the arena */
        gst_buffer_pool_config_set_params (config, caps, size, 0, 0);
        if (gst_buffer_pool_set_config (pool, config))
          gst_query_add_allocation_pool (query, pool, size, 0, 0);
        gst_object_unref (pool);
      }
      if (actor)
        rk_actor_unref (actor);
      return TRUE;
    }
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

static gboolean
gst_rk_actor_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstRkActor *self = GST_RK_ACTOR (parent);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS: {
      GstCaps *filter, *caps;
      gst_query_parse_caps (query, &filter);
      caps = query_caps (self, pad, filter);
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    }
    case GST_QUERY_CONTEXT:
      if (answer_context (self, query))
        return TRUE;
      return gst_pad_query_default (pad, parent, query);
    case GST_QUERY_LATENCY: {
      gboolean live;
      GstClockTime min, max, dur;
      guint ring;
      if (!gst_pad_peer_query (self->sinkpad, query))
        return FALSE;
      gst_query_parse_latency (query, &live, &min, &max);
      g_mutex_lock (&self->lock);
      const gboolean running = self->actor != NULL;
      ring = self->run_ring;
      g_mutex_unlock (&self->lock);
      GST_OBJECT_LOCK (self);
      if (!running)
        ring = self->ring_size;
      dur = self->max_duration;
      GST_OBJECT_UNLOCK (self);
      /* The actor answers each buffer as soon as it has it: it waits for no later data, so the
       * minimum is unchanged. The ring can hold ring-size buffers, which is what it may add. */
      if (GST_CLOCK_TIME_IS_VALID (max)) {
        if (GST_CLOCK_TIME_IS_VALID (dur))
          max += ring * dur;
        else
          max = GST_CLOCK_TIME_NONE;
      }
      GST_DEBUG_OBJECT (self, "latency: live %d min %" GST_TIME_FORMAT " max %" GST_TIME_FORMAT,
          live, GST_TIME_ARGS (min), GST_TIME_ARGS (max));
      gst_query_set_latency (query, live, min, max);
      return TRUE;
    }
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

/* ---- streaming: source side ---- */

static gboolean
src_activate_locked_start (GstRkActor *self)
{
  self->flushing = FALSE;
  self->eos = FALSE;
  self->srcresult = GST_FLOW_OK;
  if (self->actor)
    rk_actor_interrupt (self->actor, FALSE);
  return self->actor != NULL;
}

static gboolean
gst_rk_actor_src_activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode, gboolean active)
{
  GstRkActor *self = GST_RK_ACTOR (parent);
  gboolean ok;

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  if (active) {
    g_mutex_lock (&self->lock);
    ok = src_activate_locked_start (self);
    g_mutex_unlock (&self->lock);
    if (!ok)
      return FALSE;
    return gst_pad_start_task (pad, (GstTaskFunction) gst_rk_actor_loop, pad, NULL);
  }
  g_mutex_lock (&self->lock);
  self->flushing = TRUE;
  self->srcresult = GST_FLOW_FLUSHING;
  if (self->actor)
    rk_actor_interrupt (self->actor, TRUE);
  cond_broadcast_locked (self);
  g_mutex_unlock (&self->lock);
  return gst_pad_stop_task (pad);
}

static void
record_rtt_locked (GstRkActor *self, guint64 ns)
{
  self->rtt[self->rtt_count % RTT_SAMPLES] = ns;
  self->rtt_count++;
}

/* Metadata of an output buffer: the input buffer's, and the stamp of the actor's answer. */
static void
set_output_meta (GstBuffer *out, const Item *item, guint64 hlc, guint32 node)
{
  GST_BUFFER_PTS (out) = item->pts;
  GST_BUFFER_DTS (out) = item->dts;
  GST_BUFFER_DURATION (out) = item->duration;
  GST_BUFFER_OFFSET (out) = item->offset;
  GST_BUFFER_OFFSET_END (out) = item->offset_end;
  GST_BUFFER_FLAGS (out) = item->flags & ~(GST_BUFFER_FLAG_TAG_MEMORY);
  gst_buffer_add_rk_hlc_meta (out, hlc, node);
}

/* The result of len bytes at `data` written into the input buffer that the item keeps, which becomes
 * the output. Its timestamps, flags and metas stay; its HLC meta (added when it was kept) takes the
 * answer's stamp. FALSE if the result is larger than the buffer (the record's output room was its
 * size, but an answer carried in the record itself is checked only against the record's room) or the
 * buffer cannot be mapped for writing. */
static gboolean
reuse_input (GstBuffer *buf, const guint8 *data, guint32 len, guint64 hlc, guint32 node)
{
  GstMapInfo map;
  const gsize size = gst_buffer_get_size (buf);

  if (len > size || !gst_buffer_map (buf, &map, GST_MAP_WRITE))
    return FALSE;
  memcpy (map.data, data, len);
  gst_buffer_unmap (buf, &map);
  if (len < size)
    gst_buffer_resize (buf, 0, len);
  GstRkHlcMeta *m = gst_buffer_get_rk_hlc_meta (buf);
  if (m) {
    m->hlc = hlc;
    m->node = node;
  } else {
    gst_buffer_add_rk_hlc_meta (buf, hlc, node);
  }
  return TRUE;
}

/* Turn a PROCESS answer into an output buffer: the item's input buffer, if it keeps one
 * (REUSE_MAX_BYTES; counted in *reused), else one that wraps the output region, or a copy. A result
 * copied into the input buffer leaves its output region to be released: by the caller after the push
 * when `later` is given (the token in *later), else here. */
static GstBuffer *
make_output (GstRkActor *self, Item *item, const rk_answer *ans, guint *reused, guint64 *later)
{
  GstBuffer *out;
  guint32 len = ans->rec.len;

  if (item->reuse) {
    out = g_steal_pointer (&item->reuse);
    if (reuse_input (out, rk_answer_data (ans), len, ans->rec.hlc, ans->rec.node)) {
      if (later)
        *later = ans->out_token;
      else
        rk_actor_release_output (self->actor, ans->out_token);
      (*reused)++;
      return out;
    }
    gst_buffer_unref (out);
  }
  if (ans->out) {
    gboolean copied;
    out = gst_rk_output_buffer (self->actor, ans, &copied);
    if (G_UNLIKELY (copied)) {
      g_mutex_lock (&self->lock);
      if (self->buffers_copied++ == 0)
        GST_WARNING_OBJECT (self, "a result of %u bytes copied out of the actor's memory: kept there "
            "by downstream, it would have left no room for the next ones (arena-size %" G_GUINT64_FORMAT
            "); each one so costs a copy, see buffers-out-copied in stats", len, self->run_arena);
      g_mutex_unlock (&self->lock);
    }
  } else {
    /* an empty payload is valid data: gst_buffer_new_memdup () takes no zero size */
    out = len ? gst_buffer_new_memdup (ans->rec.u.bytes, len) : gst_buffer_new ();
    rk_actor_release_output (self->actor, ans->out_token);
  }
  set_output_meta (out, item, ans->rec.hlc, ans->rec.node);
  return out;
}

/* n buffers went downstream (`reused` of them their input buffers: make_output ()), which returned
 * ret: count them (as flushed if a flush downstream refused them), and keep ret for the chain function
 * (unless a flush is under way, whose FLUSHING the chain function returns anyway). */
static void
pushed (GstRkActor *self, guint n, guint reused, GstFlowReturn ret)
{
  g_mutex_lock (&self->lock);
  if (ret == GST_FLOW_FLUSHING) {
    self->flushed += n;
  } else {
    self->buffers_out += n;
    self->buffers_reused += reused;
  }
  if (!self->flushing)
    self->srcresult = ret;
  g_mutex_unlock (&self->lock);
}

/* The front item is a buffer cut into messages: read the answers of every message it sent, gathering
 * their payloads, then push them as one buffer (or nothing, if it was flushed or cut short). The item
 * stays at the front until then, so that a flush meanwhile leaves the task where it can go on. */
static GstFlowReturn
collect_messages (GstRkActor *self, Item *item)
{
  GstFlowReturn ret;
  rk_answer ans[64];
  int r;

  for (;;) {
    g_mutex_lock (&self->lock);
    while (!self->flushing && item->got == item->nsub && item->got < item->nmsg)
      cond_wait_locked (self); /* the chain function is still sending */
    if (self->flushing) {
      g_mutex_unlock (&self->lock);
      return GST_FLOW_FLUSHING;
    }
    if (item->got == item->nmsg) {
      /* every message sent was answered, and the chain function is done with the item */
      g_queue_pop_head (&self->items);
      record_rtt_locked (self, rk_now_ns () - item->submit_ns);
      if (item->discard || item->truncated)
        self->flushed++;
      g_mutex_unlock (&self->lock);
      break;
    }
    const guint32 sent = item->nsub - item->got;
    g_mutex_unlock (&self->lock);

    /* only answers of this item: those of what follows it are read when it is at the front */
    r = rk_actor_receive_batch (self->actor, ans, MIN (sent, G_N_ELEMENTS (ans)), -1);
    if (r < 0)
      return gst_rk_flow_from_errno (GST_ELEMENT (self), self->actor, r, "answering");
    for (int i = 0; i < r; i++) {
      const rk_answer *x = &ans[i];
      g_assert (x->rec.seq == item->seq + item->got);
      rk_hlc_recv (&self->clock, x->rec.hlc);
      if (x->rec.flags & RK_REC_F_ERROR) {
        if (!item->status)
          item->status = x->rec.status ? x->rec.status : RK_STATUS_FAULT;
      } else if (!item->discard && !item->truncated && !item->status) {
        const guint8 *p = x->out ? x->out : x->rec.u.bytes;
        if (!item->data)
          item->data = g_malloc ((gsize) item->nmsg * self->msg_size);
        /* each answer fits the room it was given, one message's worth (the ring refuses more) */
        memcpy (item->data + item->filled, p, x->rec.len);
        item->filled += x->rec.len;
      }
      item->hlc = x->rec.hlc;
      item->node = x->rec.node;
      rk_actor_release_output (self->actor, x->out_token);
      item->got++;
    }
  }

  if (item->discard || item->truncated) {
    item_free (item);
    return GST_FLOW_OK;
  }
  if (item->status) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("Kernel '%s' could not process a buffer: %s.", self->handler->name,
            rk_status_name (item->status)), ("a message of record %" G_GUINT64_FORMAT "..%"
            G_GUINT64_FORMAT, item->seq, item->seq + item->nmsg - 1));
    item_free (item);
    return GST_FLOW_ERROR;
  }
  GstBuffer *out = item->filled ? gst_buffer_new_wrapped (g_steal_pointer (&item->data), item->filled)
                                : gst_buffer_new ();
  set_output_meta (out, item, item->hlc, item->node);
  item_free (item);
  ret = gst_pad_push (self->srcpad, out);
  pushed (self, 1, 0, ret);
  return ret;
}

/* Whether the front item is the task's to handle: one the chain function handles itself is not. Called
 * with `lock`. */
static gboolean
task_has_work_locked (GstRkActor *self)
{
  if (!g_queue_is_empty (&self->outq))
    return TRUE;
  const Item *head = g_queue_peek_head (&self->items);
  return head && !head->direct;
}

static void
gst_rk_actor_loop (GstPad *pad)
{
  GstRkActor *self = GST_RK_ACTOR (GST_PAD_PARENT (pad));
  GstFlowReturn ret = GST_FLOW_OK;
  rk_answer ans;
  Item *item;
  int r;

  g_mutex_lock (&self->lock);
  if (g_queue_is_empty (&self->items) && g_queue_is_empty (&self->outq)) {
    /* everything queued has been handled and pushed: tell wait_items_pushed () */
    self->task_idle = TRUE;
    cond_broadcast_locked (self);
  }
  for (gboolean spun = FALSE; !self->flushing && !task_has_work_locked (self);) {
    if (!spun) {
      /* what would wake us ends the spin; if nothing did, sleep as before, even if items came
       * meanwhile that wake no one (those of the middle of a K2K chain) */
      gint seen = self->wakes;
      spun = TRUE;
      g_mutex_unlock (&self->lock);
      spin_for_wake (self, seen);
      g_mutex_lock (&self->lock);
      if (self->wakes != seen)
        continue;
    }
    cond_wait_locked (self);
  }
  self->task_idle = FALSE;
  self->unwoken = 0;
  if (self->flushing) {
    ret = GST_FLOW_FLUSHING;
    g_mutex_unlock (&self->lock);
    goto pause;
  }
  if (!g_queue_is_empty (&self->outq)) {
    /* K2K: a token (or an event behind one) handed over by the chain function: it goes first, since
     * the records downstream wait for it, and our answers come as the data goes down the route */
    GstMiniObject *o = g_queue_pop_head (&self->outq);
    const gboolean buffer = GST_IS_BUFFER (o);
    self->out_pushing = TRUE;
    g_mutex_unlock (&self->lock);
    if (buffer)
      ret = gst_pad_push (self->srcpad, GST_BUFFER_CAST (o));
    else
      gst_pad_push_event (self->srcpad, GST_EVENT_CAST (o));
    g_mutex_lock (&self->lock);
    self->out_pushing = FALSE;
    if (buffer)
      token_pushed_locked (self, ret);
    cond_broadcast_locked (self); /* for wait_items_pushed () */
    g_mutex_unlock (&self->lock);
    if (ret != GST_FLOW_OK)
      goto pause;
    return;
  }
  item = g_queue_peek_head (&self->items);
  if (item->kind == ITEM_EVENT) {
    g_queue_pop_head (&self->items);
    g_mutex_unlock (&self->lock);
    gst_pad_push_event (self->srcpad, g_steal_pointer (&item->event));
    item_free (item);
    return;
  }
  if (item->kind == ITEM_BUFFER && item->nmsg > 1) {
    g_mutex_unlock (&self->lock);
    ret = collect_messages (self, item);
    if (ret != GST_FLOW_OK)
      goto pause;
    return;
  }
  const guint32 queued = self->out_queued;
  self->answer_wait = TRUE;
  g_mutex_unlock (&self->lock);

  /* the front item's record was submitted before the item was queued: its answer is the next one. In
   * a K2K chain that answer may wait for tokens queued meanwhile (outq_push_locked ()): the wait ends
   * when one is, the tokens go first, and the answer is taken on the next turn. */
  r = rk_actor_receive_unless (self->actor, &ans, -1, &self->out_queued, queued);
  g_mutex_lock (&self->lock);
  self->answer_wait = FALSE;
  if (r < 0) {
    g_mutex_unlock (&self->lock);
    if (r == -EAGAIN)
      return;
    ret = gst_rk_flow_from_errno (GST_ELEMENT (self), self->actor, r, "answering");
    goto pause;
  }
  item = g_queue_pop_head (&self->items);
  if (!item->routed)
    record_rtt_locked (self, rk_now_ns () - item->submit_ns);
  if (item->discard && item->kind == ITEM_BUFFER && !item->routed)
    self->flushed++; /* (a forwarded one was counted when its token went, or was dropped) */
  g_mutex_unlock (&self->lock);
  g_assert (item->seq == ans.rec.seq);

  if (item->discard) {
    rk_actor_release_output (self->actor, ans.out_token);
    item_free (item);
    return;
  }

  rk_hlc_recv (&self->clock, ans.rec.hlc);

  if (ans.rec.flags & RK_REC_F_ERROR) {
    rk_actor_release_output (self->actor, ans.out_token);
    if (item->kind == ITEM_BUFFER && link_torn_down (self, item, &ans))
      return;
    if (item->kind == ITEM_BUFFER) {
      kernel_failed (self, ans.rec.status, ans.rec.seq);
      item_free (item);
      ret = GST_FLOW_ERROR;
      goto pause;
    }
    g_mutex_lock (&self->lock);
    if (item->cmd == RK_CMD_SNAPSHOT) {
      /* a move's: it says why it did not happen, or (too large) how much room a snapshot needs */
      self->checkpoint_status = ans.rec.status ? ans.rec.status : RK_STATUS_FAULT;
      self->checkpoint_need = ans.rec.u.desc.out_cap;
      self->checkpoint_done = TRUE;
      if (ans.rec.status != RK_STATUS_TOO_LARGE)
        self->command_errors++;
      g_mutex_unlock (&self->lock);
      item_free (item);
      return;
    }
    self->command_errors++;
    g_mutex_unlock (&self->lock);
    if (item->cmd == RK_CMD_LINK || item->cmd == RK_CMD_INBOX) {
      /* tokens are on their way already: their data would be lost */
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("The actor refused its K2K %s: %s.",
              item->cmd == RK_CMD_LINK ? "route" : "inbox", rk_status_name (ans.rec.status)),
          ("record %" G_GUINT64_FORMAT, ans.rec.seq));
      item_free (item);
      ret = GST_FLOW_ERROR;
      goto pause;
    }
    GST_ELEMENT_WARNING (self, STREAM, FAILED,
        ("The actor refused a %s command: %s.", rk_cmd_name (item->cmd),
            rk_status_name (ans.rec.status)), ("record %" G_GUINT64_FORMAT, ans.rec.seq));
    item_free (item);
    return;
  }

  switch (item->kind) {
    case ITEM_BUFFER: {
      if (item->routed) { /* its output is in the downstream inbox, and its token went already */
        item_free (item);
        return;
      }
      guint reused = 0;
      GstBuffer *out = make_output (self, item, &ans, &reused, NULL);
      GstBufferList *list = NULL;
      Item *failed = NULL;
      guint n = 1;
      item_free (item);
      /* answers already there for the buffers right behind go downstream with this one, in a list */
      GST_OBJECT_LOCK (self);
      guint max_list = self->buffer_lists ? MAX_LIST : 1;
      GST_OBJECT_UNLOCK (self);
      while (n < max_list) {
        g_mutex_lock (&self->lock);
        item = g_queue_peek_head (&self->items);
        gboolean next = item && item->kind == ITEM_BUFFER && !item->discard && !item->routed
            && !item->direct;
        g_mutex_unlock (&self->lock);
        if (!next || rk_actor_try_receive (self->actor, &ans) != 0)
          break;
        g_mutex_lock (&self->lock);
        item = g_queue_pop_head (&self->items);
        record_rtt_locked (self, rk_now_ns () - item->submit_ns);
        g_mutex_unlock (&self->lock);
        g_assert (item->seq == ans.rec.seq);
        rk_hlc_recv (&self->clock, ans.rec.hlc);
        if (ans.rec.flags & RK_REC_F_ERROR) {
          rk_actor_release_output (self->actor, ans.out_token);
          failed = item; /* after what came before it has gone */
          break;
        }
        if (!list) {
          list = gst_buffer_list_new_sized (MAX_LIST);
          gst_buffer_list_add (list, out);
          out = NULL;
        }
        gst_buffer_list_add (list, make_output (self, item, &ans, &reused, NULL));
        item_free (item);
        n++;
      }
      ret = list ? gst_pad_push_list (self->srcpad, list) : gst_pad_push (self->srcpad, out);
      pushed (self, n, reused, ret);
      if (failed) {
        kernel_failed (self, ans.rec.status, ans.rec.seq);
        item_free (failed);
        ret = GST_FLOW_ERROR;
      }
      if (ret != GST_FLOW_OK)
        goto pause;
      return;
    }
    case ITEM_EOS:
      GST_DEBUG_OBJECT (self, "every record answered: forwarding EOS");
      gst_pad_push_event (self->srcpad, g_steal_pointer (&item->event));
      item_free (item);
      ret = GST_FLOW_EOS;
      g_mutex_lock (&self->lock);
      self->srcresult = GST_FLOW_EOS;
      g_mutex_unlock (&self->lock);
      goto pause;
    case ITEM_COMMAND:
      GST_DEBUG_OBJECT (self, "%s answered", rk_cmd_name (item->cmd));
      if (item->cmd == RK_CMD_SNAPSHOT) { /* a move's: the state it hands to the new actor */
        GBytes *cp = g_bytes_new (rk_answer_data (&ans), ans.rec.len);
        g_mutex_lock (&self->lock);
        g_clear_pointer (&self->checkpoint, g_bytes_unref);
        self->checkpoint = cp;
        self->checkpoint_status = RK_STATUS_OK;
        self->checkpoint_done = TRUE;
        g_mutex_unlock (&self->lock);
      }
      rk_actor_release_output (self->actor, ans.out_token);
      item_free (item);
      return;
    case ITEM_EVENT:
      g_assert_not_reached ();
  }
  return;

pause:
  GST_DEBUG_OBJECT (self, "pausing task: %s", gst_flow_get_name (ret));
  g_mutex_lock (&self->lock);
  if (!self->flushing) {
    /* until a flush or a restart, the chain function returns this instead of feeding a ring that
     * nobody reads; one already waiting there for room stops waiting (EOS: no data can follow) */
    self->srcresult = ret;
    if (ret != GST_FLOW_EOS)
      rk_actor_interrupt (self->actor, TRUE);
  }
  g_mutex_unlock (&self->lock);
  gst_pad_pause_task (pad);
  if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS) {
    GST_ELEMENT_FLOW_ERROR (self, ret);
    gst_pad_push_event (self->srcpad, gst_event_new_eos ());
  }
}

/* ---- properties ---- */

static int
compare_u64 (const void *a, const void *b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;
  return x < y ? -1 : x > y;
}

static GstStructure *
make_stats (GstRkActor *self)
{
  GstStructure *s = gst_structure_new_empty ("rkactor-stats");
  guint64 *rtt = NULL;
  guint n;

  g_mutex_lock (&self->lock);
  n = MIN (self->rtt_count, RTT_SAMPLES);
  if (n)
    rtt = g_memdup2 (self->rtt, n * sizeof (guint64));
  gst_structure_set (s, "buffers-in", G_TYPE_UINT64, self->buffers_in, "buffers-in-place",
      G_TYPE_UINT64, self->buffers_in_place, "buffers-out", G_TYPE_UINT64,
      self->buffers_out, "buffers-out-copied", G_TYPE_UINT64, self->buffers_copied, "buffers-out-reused",
      G_TYPE_UINT64, self->buffers_reused, "flushed",
      G_TYPE_UINT64, self->flushed, "commands", G_TYPE_UINT64, self->commands, "command-errors",
      G_TYPE_UINT64, self->command_errors, "device-id", G_TYPE_INT,
      self->actor ? self->run_device : -1, "link-in", G_TYPE_STRING,
      rk_link_path_name (self->link_in ? self->in_path : RK_LINK_HOST), "link-out", G_TYPE_STRING,
      rk_link_path_name (self->link_out ? self->out_path : RK_LINK_HOST), "tokens-in", G_TYPE_UINT64,
      self->tokens_in, "tokens-out", G_TYPE_UINT64, self->tokens_out, "moves", G_TYPE_UINT,
      self->moves, "move-pause-us", G_TYPE_DOUBLE, self->move_pause_ns / 1e3, NULL);
  const guint run_ring = self->actor ? self->run_ring : 0;
  g_mutex_unlock (&self->lock);

  GST_OBJECT_LOCK (self);
  /* the ring it runs with, else the one it will start with */
  gst_structure_set (s, "kernel", G_TYPE_STRING, self->kernel_file ? self->kernel_file : self->kernel,
      "ring-size", G_TYPE_UINT, run_ring ? run_ring : self->ring_size, NULL);
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  rk_actor *actor = self->actor ? rk_actor_ref (self->actor) : NULL;
  g_mutex_unlock (&self->lock);
  if (actor) {
    const rk_control *ctl = rk_actor_control (actor);
    gst_structure_set (s, "backend", G_TYPE_STRING, rk_actor_backend (actor)->name,
        "actor-state", G_TYPE_STRING, rk_state_name (__atomic_load_n (&ctl->state, __ATOMIC_ACQUIRE)),
        "in-flight", G_TYPE_UINT64, rk_actor_in_flight (actor),
        "ring-high-water", G_TYPE_UINT, rk_actor_ring_high_water (actor),
        "heartbeat", G_TYPE_UINT64, __atomic_load_n (&ctl->heartbeat, __ATOMIC_RELAXED),
        "hlc", G_TYPE_UINT64, __atomic_load_n (&ctl->hlc, __ATOMIC_RELAXED),
        "routed-in", G_TYPE_UINT64, __atomic_load_n (&ctl->routed_in, __ATOMIC_RELAXED),
        "routed-in-fast", G_TYPE_UINT64, __atomic_load_n (&ctl->fast_in, __ATOMIC_RELAXED),
        "routed-out", G_TYPE_UINT64, __atomic_load_n (&ctl->routed_out, __ATOMIC_RELAXED),
        "skipped-in", G_TYPE_UINT64, __atomic_load_n (&ctl->skipped_in, __ATOMIC_RELAXED),
        "records-in-fast", G_TYPE_UINT64, __atomic_load_n (&ctl->h2k_fast, __ATOMIC_RELAXED),
        "answers-fast", G_TYPE_UINT64, __atomic_load_n (&ctl->k2h_fast, __ATOMIC_RELAXED), NULL);
    rk_actor_unref (actor);
  } else {
    gst_structure_set (s, "backend", G_TYPE_STRING, "none", "actor-state", G_TYPE_STRING, "none",
        NULL);
  }

  gst_structure_set (s, "rtt-samples", G_TYPE_UINT, n, NULL);
  if (n) {
    qsort (rtt, n, sizeof (guint64), compare_u64);
    gst_structure_set (s, "rtt-min-us", G_TYPE_DOUBLE, rtt[0] / 1e3, "rtt-p50-us", G_TYPE_DOUBLE,
        rtt[n / 2] / 1e3, "rtt-p99-us", G_TYPE_DOUBLE, rtt[MIN (n - 1, (guint) (n * 0.99))] / 1e3,
        "rtt-max-us", G_TYPE_DOUBLE, rtt[n - 1] / 1e3, NULL);
    g_free (rtt);
  }
  return s;
}

/* A params change while the actor runs: validate, then send what changed (now if the ring has room,
 * else ahead of the next buffer). FALSE when the change was refused. */
static gboolean
apply_params (GstRkActor *self, const GstStructure *params)
{
  double values[RK_MAX_PARAMS];
  const rk_handler *h;
  gchar *err = NULL;

  g_mutex_lock (&self->lock);
  h = self->actor ? self->handler : NULL;
  g_mutex_unlock (&self->lock);
  if (!h)
    return TRUE; /* read at start */
  if (!gst_rk_parse_params (h, params, values, &err)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Invalid params: %s.", err), (NULL));
    g_free (err);
    return FALSE;
  }
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < h->n_params; i++) {
    if (values[i] != self->values[i]) {
      self->values[i] = values[i];
      self->dirty_params |= 1u << i;
    }
  }
  g_mutex_unlock (&self->lock);
  try_send_pending_control (self);
  return TRUE;
}

static void
gst_rk_actor_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstRkActor *self = GST_RK_ACTOR (object);

  switch (prop_id) {
    case PROP_BACKEND:
      GST_OBJECT_LOCK (self);
      self->backend = g_value_get_enum (value);
      GST_OBJECT_UNLOCK (self);
      request_move (self);
      break;
    case PROP_MODE:
      GST_OBJECT_LOCK (self);
      self->mode = g_value_get_enum (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_KERNEL:
      GST_OBJECT_LOCK (self);
      g_free (self->kernel);
      self->kernel = g_value_dup_string (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_KERNEL_FILE:
      GST_OBJECT_LOCK (self);
      g_free (self->kernel_file);
      self->kernel_file = g_value_dup_string (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_PARAMS: {
      const GstStructure *s = gst_value_get_structure (value);
      GstStructure *old, *mine = s ? gst_structure_copy (s) : NULL;
      /* stored first, so that a start meanwhile reads it; taken back if the running actor refuses
       * it, so that the property keeps saying what the actor runs (and a restart still works) */
      GST_OBJECT_LOCK (self);
      old = self->params;
      self->params = mine;
      GST_OBJECT_UNLOCK (self);
      if (!apply_params (self, s)) {
        GST_OBJECT_LOCK (self);
        if (self->params == mine) {
          self->params = old;
          old = mine;
        }
        GST_OBJECT_UNLOCK (self);
      }
      if (old)
        gst_structure_free (old);
      break;
    }
    case PROP_RING_SIZE: {
      guint v = g_value_get_uint (value);
      if (v & (v - 1))
        GST_WARNING_OBJECT (self, "ring-size %u is not a power of two: starting will fail", v);
      GST_OBJECT_LOCK (self);
      self->ring_size = v;
      GST_OBJECT_UNLOCK (self);
      request_move (self);
      break;
    }
    case PROP_DEVICE_ID:
      GST_OBJECT_LOCK (self);
      self->device_id = g_value_get_int (value);
      GST_OBJECT_UNLOCK (self);
      request_move (self);
      break;
    case PROP_ARENA_SIZE:
      GST_OBJECT_LOCK (self);
      self->arena_size = g_value_get_uint64 (value);
      GST_OBJECT_UNLOCK (self);
      request_move (self);
      break;
    case PROP_MESSAGE_SIZE:
      GST_OBJECT_LOCK (self);
      self->message_size = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_BUFFER_LISTS:
      GST_OBJECT_LOCK (self);
      self->buffer_lists = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_LINK:
      GST_OBJECT_LOCK (self);
      self->link = g_value_get_enum (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_rk_actor_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstRkActor *self = GST_RK_ACTOR (object);

  switch (prop_id) {
    case PROP_BACKEND:
      GST_OBJECT_LOCK (self);
      g_value_set_enum (value, self->backend);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_MODE:
      GST_OBJECT_LOCK (self);
      g_value_set_enum (value, self->mode);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_KERNEL:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->kernel);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_KERNEL_FILE:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->kernel_file);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_PARAMS:
      GST_OBJECT_LOCK (self);
      gst_value_set_structure (value, self->params);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_RING_SIZE:
      GST_OBJECT_LOCK (self);
      g_value_set_uint (value, self->ring_size);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_DEVICE_ID:
      GST_OBJECT_LOCK (self);
      g_value_set_int (value, self->device_id);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_ARENA_SIZE:
      GST_OBJECT_LOCK (self);
      g_value_set_uint64 (value, self->arena_size);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_MESSAGE_SIZE:
      GST_OBJECT_LOCK (self);
      g_value_set_uint (value, self->message_size);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_BUFFER_LISTS:
      GST_OBJECT_LOCK (self);
      g_value_set_boolean (value, self->buffer_lists);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_LINK:
      GST_OBJECT_LOCK (self);
      g_value_set_enum (value, self->link);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_STATS:
      g_value_take_boxed (value, make_stats (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}
