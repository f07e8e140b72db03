/* gst-ringkernel: rkwavesrc, a live video source showing a wave simulation that lives in an actor.
 *
 * Copyright (C) 2026 the gst-ringkernel authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-rkwavesrc
 * @title: rkwavesrc
 *
 * rkwavesrc simulates a 2D acoustic wave (or a 3D one, shown one slice at a time) on a grid of cells
 * whose field lives in a persistent actor: on a GPU backend, in device memory, stepped by a kernel
 * launched once when the element starts. Each video frame is one command to the actor: advance
 * #GstRkWaveSrc:steps-per-frame steps, then draw the field (GRAY16_LE, or RGBA through a blue-white-red
 * colour map; one pixel per cell). Only the finished frame crosses to the host.
 *
 * The field reacts at once: an impulse (the #GstRkWaveSrc::impulse action signal, or a mouse click in
 * a video sink's window, which arrives as a navigation event) reaches the actor before the next frame's
 * steps, and a change of #GstRkWaveSrc:speed, #GstRkWaveSrc:damping, #GstRkWaveSrc:boundary,
 * #GstRkWaveSrc:slice or #GstRkWaveSrc:gain applies from the next frame, with no restart. The grid's
 * size is fixed while the element runs.
 *
 * Each step is the damped wave equation by central differences: u' = u + keep (u - u_prev) + C^2 lap
 * (u), with C = #GstRkWaveSrc:speed cells per step. Edges reflect; with boundary=absorbing a damping
 * band along them takes what enters it. Every backend computes the same bits as the C reference.
 * #GstRkWaveSrc:mode=launch runs the same simulation the traditional way, one kernel launch per step,
 * for comparison.
 *
 * Linked straight to an actor element on the same backend and device (`rkactor`), the frames never
 * leave it: each is drawn into that actor's inbox (a K2K link, agreed at negotiation), and only a
 * token buffer with the frame's timestamps crosses the pad. #GstRkWaveSrc:link=host keeps the frames
 * on the host; the "stats" say which path they took.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 rkwavesrc ! videoconvert ! autovideosink
 * gst-launch-1.0 rkwavesrc is-live=false num-buffers=10 width=320 height=240 ! video/x-raw,format=RGBA ! \
 *     videoconvert ! pngenc ! multifilesink location=wave-%03d.png
 * gst-launch-1.0 rkwavesrc ! rkactor kernel=levels params="p,a=2.0,b=-32768" ! videoconvert ! \
 *     autovideosink
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstrkwavesrc.h"

#include <errno.h>
#include <gst/video/video.h>
#include <string.h>

#include "gstrkcommon.h"
#include "gstrkmeta.h"
#include "rk_actor.h"
#include "rk_hlc.h"
#include "rk_wave.h"

GST_DEBUG_CATEGORY_STATIC (gst_rk_wave_src_debug);
#define GST_CAT_DEFAULT gst_rk_wave_src_debug

#define DEFAULT_WIDTH 256
#define DEFAULT_HEIGHT 256
#define DEFAULT_DEPTH 1
#define DEFAULT_SPEED 0.4
#define DEFAULT_DAMPING 0.001
#define DEFAULT_BOUNDARY GST_RK_WAVE_BOUNDARY_REFLECTING
#define DEFAULT_SLICE 0
#define DEFAULT_GAIN 1.0
#define DEFAULT_STEPS 4
#define DEFAULT_FPS_N 30
#define DEFAULT_FPS_D 1
#define DEFAULT_IS_LIVE TRUE
#define DEFAULT_AMPLITUDE 1.0
#define DEFAULT_RADIUS 4.0
#define DEFAULT_DROPS 0.0
#define DEFAULT_BACKEND GST_RK_BACKEND_AUTO
#define DEFAULT_DEVICE_ID -1
#define DEFAULT_MODE GST_RK_MODE_PERSISTENT
#define MAX_STEPS 100000
#define RING_SIZE 64
#define ARENA_MAX (256u << 20) /* frames in flight: at most this much output memory */
#define STOP_TIMEOUT_NS (10 * GST_SECOND)

enum {
  PROP_0,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_DEPTH,
  PROP_SPEED,
  PROP_DAMPING,
  PROP_BOUNDARY,
  PROP_SLICE,
  PROP_GAIN,
  PROP_STEPS_PER_FRAME,
  PROP_FRAMERATE,
  PROP_IS_LIVE,
  PROP_IMPULSE_AMPLITUDE,
  PROP_IMPULSE_RADIUS,
  PROP_DROPS,
  PROP_BACKEND,
  PROP_DEVICE_ID,
  PROP_MODE,
  PROP_LINK,
  PROP_STATS,
};

enum {
  SIGNAL_IMPULSE,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

/* A command waiting for the next frame: an impulse, or a parameter (index, value). */
typedef struct {
  gboolean is_param;
  guint32 index;
  gdouble value;
  rk_wave_impulse imp;
} Pending;

struct _GstRkWaveSrc {
  GstPushSrc parent;

  /* properties (object lock) */
  guint width, height, depth, steps_per_frame, slice;
  gdouble speed, damping, gain, amplitude, radius, drops;
  GstRkWaveBoundary boundary;
  gint fps_n, fps_d;
  gboolean is_live;
  GstRkBackend backend;
  gint device_id;
  GstRkMode mode;
  GstRkLinkMode link;

  /* commands for the next frame (object lock) */
  GArray *pending;

  /* the streaming side */
  rk_actor *actor;
  gint run_device;
  rk_hlc clock;
  GstVideoInfo info;
  guint32 format;
  guint64 frame;
  guint64 steps, impulses, param_changes, frames_out;
  guint32 cells_w, cells_h, cells_d;
  gdouble drops_due; /* drops owed, fractional */
  guint64 rng;

  /* K2K (streaming thread): frames go straight into the downstream actor's inbox, a token crosses */
  rk_actor *peer; /* the downstream actor, whose inbox our route points into */
  gboolean link_out;
  guint32 out_route;
  rk_link_path out_path;
  guint64 out_seq; /* next link sequence number: out_route << 40 | count */
  guint64 tokens_out;
};

G_DEFINE_TYPE (GstRkWaveSrc, gst_rk_wave_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (rkwavesrc, "rkwavesrc", GST_RANK_NONE, GST_TYPE_RK_WAVE_SRC,
    GST_DEBUG_CATEGORY_INIT (gst_rk_wave_src_debug, "rkwavesrc", 0, "ringkernel wave source"));

GType
gst_rk_wave_boundary_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_RK_WAVE_BOUNDARY_REFLECTING, "Waves bounce off the edges (rigid walls)", "reflecting" },
    { GST_RK_WAVE_BOUNDARY_ABSORBING, "A damping band along the edges takes what enters it",
      "absorbing" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstRkWaveBoundary", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define WAVE_FORMATS "{ RGBA, GRAY16_LE }"
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (WAVE_FORMATS) ";"
        GST_VIDEO_CAPS_MAKE_WITH_FEATURES (GST_CAPS_FEATURE_MEMORY_RK_LINK, WAVE_FORMATS)));

static void gst_rk_wave_src_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec);
static void gst_rk_wave_src_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec);
static void gst_rk_wave_src_finalize (GObject *object);
static gboolean gst_rk_wave_src_start (GstBaseSrc *src);
static gboolean gst_rk_wave_src_negotiate (GstBaseSrc *src);
static gboolean gst_rk_wave_src_stop (GstBaseSrc *src);
static GstCaps *gst_rk_wave_src_get_caps (GstBaseSrc *src, GstCaps *filter);
static GstCaps *gst_rk_wave_src_fixate (GstBaseSrc *src, GstCaps *caps);
static gboolean gst_rk_wave_src_set_caps (GstBaseSrc *src, GstCaps *caps);
static gboolean gst_rk_wave_src_query (GstBaseSrc *src, GstQuery *query);
static gboolean gst_rk_wave_src_event (GstBaseSrc *src, GstEvent *event);
static gboolean gst_rk_wave_src_unlock (GstBaseSrc *src);
static gboolean gst_rk_wave_src_unlock_stop (GstBaseSrc *src);
static GstFlowReturn gst_rk_wave_src_create (GstPushSrc *src, GstBuffer **buf);
static gboolean gst_rk_wave_src_impulse (GstRkWaveSrc *self, gint x, gint y, gint z, gdouble amplitude,
    gdouble radius);

static void
gst_rk_wave_src_class_init (GstRkWaveSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags live = rw | GST_PARAM_CONTROLLABLE | GST_PARAM_MUTABLE_PLAYING;
  const GParamFlags ready = rw | GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = gst_rk_wave_src_set_property;
  gobject_class->get_property = gst_rk_wave_src_get_property;
  gobject_class->finalize = gst_rk_wave_src_finalize;

  g_object_class_install_property (gobject_class, PROP_WIDTH,
      g_param_spec_uint ("width", "Width", "Grid width in cells (the video's width)", 1,
          RK_WAVE_MAX_SIDE, DEFAULT_WIDTH, ready));
  g_object_class_install_property (gobject_class, PROP_HEIGHT,
      g_param_spec_uint ("height", "Height", "Grid height in cells (the video's height)", 1,
          RK_WAVE_MAX_SIDE, DEFAULT_HEIGHT, ready));
  g_object_class_install_property (gobject_class, PROP_DEPTH,
      g_param_spec_uint ("depth", "Depth",
          "Grid depth in cells: 1 simulates a plane, more a volume shown one slice at a time (at most "
          "2^28 cells in all)", 1, RK_WAVE_MAX_DEPTH, DEFAULT_DEPTH, ready));
  g_object_class_install_property (gobject_class, PROP_SPEED,
      g_param_spec_double ("speed", "Wave speed",
          "Cells the wave travels per step (the Courant number; stable up to 0.5)", 0.0, 0.5,
          DEFAULT_SPEED, live));
  g_object_class_install_property (gobject_class, PROP_DAMPING,
      g_param_spec_double ("damping", "Damping", "Fraction of the field's velocity lost per step",
          0.0, 1.0, DEFAULT_DAMPING, live));
  g_object_class_install_property (gobject_class, PROP_BOUNDARY,
      g_param_spec_enum ("boundary", "Boundary", "What the edges do to a wave",
          GST_TYPE_RK_WAVE_BOUNDARY, DEFAULT_BOUNDARY, live));
  g_object_class_install_property (gobject_class, PROP_SLICE,
      g_param_spec_uint ("slice", "Slice", "3D: the z of the slice shown (clamped to depth - 1)", 0,
          RK_WAVE_MAX_DEPTH - 1, DEFAULT_SLICE, live));
  g_object_class_install_property (gobject_class, PROP_GAIN,
      g_param_spec_double ("gain", "Gain",
          "Frames show the field times this, clipped to [-1, 1] (black/blue -1, mid-grey/white 0, "
          "white/red +1)", 1e-6, 1e6, DEFAULT_GAIN, live));
  g_object_class_install_property (gobject_class, PROP_STEPS_PER_FRAME,
      g_param_spec_uint ("steps-per-frame", "Steps per frame", "Simulation steps between two frames",
          0, MAX_STEPS, DEFAULT_STEPS, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_FRAMERATE,
      gst_param_spec_fraction ("framerate", "Frame rate", "Frames per second", 1, 1000, 1000, 1,
          DEFAULT_FPS_N, DEFAULT_FPS_D, ready));
  g_object_class_install_property (gobject_class, PROP_IS_LIVE,
      g_param_spec_boolean ("is-live", "Is live",
          "Produce frames at the frame rate, in step with the clock (FALSE: as fast as the actor goes)",
          DEFAULT_IS_LIVE, ready));
  g_object_class_install_property (gobject_class, PROP_IMPULSE_AMPLITUDE,
      g_param_spec_double ("impulse-amplitude", "Impulse amplitude",
          "Height of the bump that a mouse click adds", -1e6, 1e6, DEFAULT_AMPLITUDE,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_IMPULSE_RADIUS,
      g_param_spec_double ("impulse-radius", "Impulse radius",
          "Radius in cells of the bump that a mouse click adds", 0.5, RK_WAVE_MAX_RADIUS,
          DEFAULT_RADIUS, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_DROPS,
      g_param_spec_double ("drops", "Drops",
          "Impulses at random places per frame, on average (rain on a pond: a demonstration with no "
          "one clicking); their amplitude and radius are impulse-amplitude and impulse-radius", 0.0,
          1000.0, DEFAULT_DROPS, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_BACKEND, gst_rk_param_spec_backend (FALSE));
  g_object_class_install_property (gobject_class, PROP_DEVICE_ID, gst_rk_param_spec_device_id (FALSE));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "persistent: one kernel steps the field for as long as the element runs; launch: one kernel "
          "launch per step and a wait per frame, the traditional way, for comparison (GPU backends "
          "only)", GST_TYPE_RK_MODE, DEFAULT_MODE, ready));
  g_object_class_install_property (gobject_class, PROP_LINK, gst_rk_param_spec_link ("the source pad"));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Counters: backend, device-id, frames, steps, impulses, param-changes, cells (per step); "
          "K2K: link-out (host, device, peer or staged) and tokens-out (frames that went on the device)",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * GstRkWaveSrc::impulse:
   * @src: the element
   * @x: cell column
   * @y: cell row
   * @z: cell layer (3D; ignored in 2D)
   * @amplitude: height of the bump
   * @radius: radius of the bump in cells (0.5 to 64)
   *
   * Adds a bump amplitude * (1 - r^2/radius^2)^2 to the field, at rest, before the next frame's steps.
   * Returns: FALSE if radius is out of range or the amplitude is not finite.
   */
  signals[SIGNAL_IMPULSE] = g_signal_new_class_handler ("impulse", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION, G_CALLBACK (gst_rk_wave_src_impulse), NULL, NULL, NULL,
      G_TYPE_BOOLEAN, 5, G_TYPE_INT, G_TYPE_INT, G_TYPE_INT, G_TYPE_DOUBLE, G_TYPE_DOUBLE);

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Wave simulation source (ringkernel)",
      "Source/Video", "A 2D or 3D wave simulation whose field lives in a persistent GPU actor; clicks "
      "and the impulse signal start waves", "gst-ringkernel <gst-ringkernel@lists.invalid>");

  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_rk_wave_src_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_rk_wave_src_stop);
  basesrc_class->get_caps = GST_DEBUG_FUNCPTR (gst_rk_wave_src_get_caps);
  basesrc_class->fixate = GST_DEBUG_FUNCPTR (gst_rk_wave_src_fixate);
  basesrc_class->set_caps = GST_DEBUG_FUNCPTR (gst_rk_wave_src_set_caps);
  basesrc_class->negotiate = GST_DEBUG_FUNCPTR (gst_rk_wave_src_negotiate);
  basesrc_class->query = GST_DEBUG_FUNCPTR (gst_rk_wave_src_query);
  basesrc_class->event = GST_DEBUG_FUNCPTR (gst_rk_wave_src_event);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR (gst_rk_wave_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_rk_wave_src_unlock_stop);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_rk_wave_src_create);

  gst_type_mark_as_plugin_api (GST_TYPE_RK_WAVE_BOUNDARY, 0);
}

static void
gst_rk_wave_src_init (GstRkWaveSrc *self)
{
  self->width = DEFAULT_WIDTH;
  self->height = DEFAULT_HEIGHT;
  self->depth = DEFAULT_DEPTH;
  self->speed = DEFAULT_SPEED;
  self->damping = DEFAULT_DAMPING;
  self->boundary = DEFAULT_BOUNDARY;
  self->slice = DEFAULT_SLICE;
  self->gain = DEFAULT_GAIN;
  self->steps_per_frame = DEFAULT_STEPS;
  self->fps_n = DEFAULT_FPS_N;
  self->fps_d = DEFAULT_FPS_D;
  self->is_live = DEFAULT_IS_LIVE;
  self->amplitude = DEFAULT_AMPLITUDE;
  self->radius = DEFAULT_RADIUS;
  self->drops = DEFAULT_DROPS;
  self->backend = DEFAULT_BACKEND;
  self->device_id = DEFAULT_DEVICE_ID;
  self->mode = DEFAULT_MODE;
  self->link = GST_RK_LINK_AUTO;
  self->pending = g_array_new (FALSE, FALSE, sizeof (Pending));
  gst_base_src_set_live (GST_BASE_SRC (self), DEFAULT_IS_LIVE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
}

static void
gst_rk_wave_src_finalize (GObject *object)
{
  GstRkWaveSrc *self = GST_RK_WAVE_SRC (object);
  g_array_free (self->pending, TRUE);
  G_OBJECT_CLASS (gst_rk_wave_src_parent_class)->finalize (object);
}

/* ---- commands ---- */

/* With the object lock: a parameter for the running actor (no-op before it starts: it starts with the
 * properties' values). */
static void
queue_param_locked (GstRkWaveSrc *self, guint32 index, gdouble value)
{
  Pending p = { .is_param = TRUE, .index = index, .value = value };
  g_array_append_val (self->pending, p);
}

static gboolean
gst_rk_wave_src_impulse (GstRkWaveSrc *self, gint x, gint y, gint z, gdouble amplitude, gdouble radius)
{
  if (!(radius >= 0.5 && radius <= RK_WAVE_MAX_RADIUS) || !(amplitude > -1e6 && amplitude < 1e6)) {
    GST_WARNING_OBJECT (self, "impulse refused: radius %g (0.5 to %g), amplitude %g", radius,
        (double) RK_WAVE_MAX_RADIUS, amplitude);
    return FALSE;
  }
  Pending p = {
    .imp = { .op = RK_WAVE_IMPULSE, .x = x, .y = y, .z = z, .amplitude = (float) amplitude,
      .radius = (float) radius },
  };
  GST_OBJECT_LOCK (self);
  g_array_append_val (self->pending, p);
  GST_OBJECT_UNLOCK (self);
  GST_DEBUG_OBJECT (self, "impulse at (%d, %d, %d), amplitude %g, radius %g", x, y, z, amplitude, radius);
  return TRUE;
}

/* ---- properties ---- */

static void
gst_rk_wave_src_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstRkWaveSrc *self = GST_RK_WAVE_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_WIDTH:
      self->width = g_value_get_uint (value);
      break;
    case PROP_HEIGHT:
      self->height = g_value_get_uint (value);
      break;
    case PROP_DEPTH:
      self->depth = g_value_get_uint (value);
      break;
    case PROP_SPEED:
      self->speed = g_value_get_double (value);
      queue_param_locked (self, RK_WAVE_P_SPEED, self->speed);
      break;
    case PROP_DAMPING:
      self->damping = g_value_get_double (value);
      queue_param_locked (self, RK_WAVE_P_DAMPING, self->damping);
      break;
    case PROP_BOUNDARY:
      self->boundary = g_value_get_enum (value);
      queue_param_locked (self, RK_WAVE_P_BOUNDARY, self->boundary);
      break;
    case PROP_SLICE:
      self->slice = g_value_get_uint (value);
      queue_param_locked (self, RK_WAVE_P_SLICE, self->slice);
      break;
    case PROP_GAIN:
      self->gain = g_value_get_double (value);
      queue_param_locked (self, RK_WAVE_P_GAIN, self->gain);
      break;
    case PROP_STEPS_PER_FRAME:
      self->steps_per_frame = g_value_get_uint (value);
      break;
    case PROP_FRAMERATE:
      self->fps_n = gst_value_get_fraction_numerator (value);
      self->fps_d = gst_value_get_fraction_denominator (value);
      break;
    case PROP_IS_LIVE:
      self->is_live = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      gst_base_src_set_live (GST_BASE_SRC (self), g_value_get_boolean (value));
      return;
    case PROP_IMPULSE_AMPLITUDE:
      self->amplitude = g_value_get_double (value);
      break;
    case PROP_IMPULSE_RADIUS:
      self->radius = g_value_get_double (value);
      break;
    case PROP_DROPS:
      self->drops = g_value_get_double (value);
      break;
    case PROP_BACKEND:
      self->backend = g_value_get_enum (value);
      break;
    case PROP_DEVICE_ID:
      self->device_id = g_value_get_int (value);
      break;
    case PROP_MODE:
      self->mode = g_value_get_enum (value);
      break;
    case PROP_LINK:
      self->link = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static GstStructure *
make_stats (GstRkWaveSrc *self)
{
  rk_actor *a = self->actor;
  return gst_structure_new ("rkwavesrc-stats", "backend", G_TYPE_STRING,
      a ? rk_actor_backend (a)->name : "none", "device-id", G_TYPE_INT, a ? self->run_device : -1,
      "frames", G_TYPE_UINT64, self->frames_out, "steps", G_TYPE_UINT64, self->steps, "impulses",
      G_TYPE_UINT64, self->impulses, "param-changes", G_TYPE_UINT64, self->param_changes, "cells",
      G_TYPE_UINT64, (guint64) self->cells_w * self->cells_h * self->cells_d, "link-out",
      G_TYPE_STRING, rk_link_path_name (self->link_out ? self->out_path : RK_LINK_HOST), "tokens-out", G_TYPE_UINT64, self->tokens_out,
      NULL);
}

static void
gst_rk_wave_src_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstRkWaveSrc *self = GST_RK_WAVE_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_WIDTH:
      g_value_set_uint (value, self->width);
      break;
    case PROP_HEIGHT:
      g_value_set_uint (value, self->height);
      break;
    case PROP_DEPTH:
      g_value_set_uint (value, self->depth);
      break;
    case PROP_SPEED:
      g_value_set_double (value, self->speed);
      break;
    case PROP_DAMPING:
      g_value_set_double (value, self->damping);
      break;
    case PROP_BOUNDARY:
      g_value_set_enum (value, self->boundary);
      break;
    case PROP_SLICE:
      g_value_set_uint (value, self->slice);
      break;
    case PROP_GAIN:
      g_value_set_double (value, self->gain);
      break;
    case PROP_STEPS_PER_FRAME:
      g_value_set_uint (value, self->steps_per_frame);
      break;
    case PROP_FRAMERATE:
      gst_value_set_fraction (value, self->fps_n, self->fps_d);
      break;
    case PROP_IS_LIVE:
      g_value_set_boolean (value, self->is_live);
      break;
    case PROP_IMPULSE_AMPLITUDE:
      g_value_set_double (value, self->amplitude);
      break;
    case PROP_IMPULSE_RADIUS:
      g_value_set_double (value, self->radius);
      break;
    case PROP_DROPS:
      g_value_set_double (value, self->drops);
      break;
    case PROP_BACKEND:
      g_value_set_enum (value, self->backend);
      break;
    case PROP_DEVICE_ID:
      g_value_set_int (value, self->device_id);
      break;
    case PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;
    case PROP_LINK:
      g_value_set_enum (value, self->link);
      break;
    case PROP_STATS:
      g_value_take_boxed (value, make_stats (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* ---- start / stop ---- */

static gboolean
gst_rk_wave_src_start (GstBaseSrc *src)
{
  GstRkWaveSrc *self = GST_RK_WAVE_SRC (src);
  double p[RK_MAX_PARAMS] = { 0 };
  char why[1024] = "";

  GST_OBJECT_LOCK (self);
  p[RK_WAVE_P_WIDTH] = self->width;
  p[RK_WAVE_P_HEIGHT] = self->height;
  p[RK_WAVE_P_DEPTH] = self->depth;
  p[RK_WAVE_P_SPEED] = self->speed;
  p[RK_WAVE_P_DAMPING] = self->damping;
  p[RK_WAVE_P_BOUNDARY] = self->boundary;
  p[RK_WAVE_P_SLICE] = self->slice;
  p[RK_WAVE_P_GAIN] = self->gain;
  GstRkBackend backend = self->backend;
  gint device_id = self->device_id;
  GstRkMode mode = self->mode;
  /* the actor starts with the properties as they are now: only the impulses stay queued */
  for (guint i = self->pending->len; i-- > 0;)
    if (g_array_index (self->pending, Pending, i).is_param)
      g_array_remove_index (self->pending, i);
  GST_OBJECT_UNLOCK (self);

  if (!rk_wave_state_size (p)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("A grid of %.0f x %.0f x %.0f cells is more than the %u cells the simulation holds.",
            p[RK_WAVE_P_WIDTH], p[RK_WAVE_P_HEIGHT], p[RK_WAVE_P_DEPTH], RK_WAVE_MAX_CELLS), (NULL));
    return FALSE;
  }
  const rk_backend_ops *ops = gst_rk_choose_backend (GST_ELEMENT (self), backend, &device_id);
  if (!ops)
    return FALSE;

  /* output memory for several frames in flight downstream (each wraps its region until freed) */
  const guint64 frame = (guint64) self->width * 4 * self->height;
  guint64 frames = frame * 8 > ARENA_MAX ? MAX (ARENA_MAX / frame, 4) : 8;
  guint64 arena = (frame * frames + RK_ARENA_ALIGN - 1) / RK_ARENA_ALIGN * RK_ARENA_ALIGN;
  guint32 node = gst_rk_new_node_pair ();
  rk_actor_config cfg = {
    .backend = ops,
    .device_id = device_id,
    .handler = rk_handler_find ("wave"),
    .mode = (rk_actor_mode) mode,
    .ring_entries = RING_SIZE,
    .in_arena_size = 64 * 1024,
    .out_arena_size = arena,
    .node = node | 1,
    .params = p,
  };
  rk_actor *actor = NULL;
  int r = rk_actor_new (&cfg, &actor, why, sizeof why);
  if (r < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("Could not start the %s wave actor: %s.", ops->name,
            why), ("error %d", r));
    return FALSE;
  }
  rk_hlc_init (&self->clock, node);
  self->actor = actor;
  self->run_device = device_id;
  self->cells_w = (guint32) p[RK_WAVE_P_WIDTH];
  self->cells_h = (guint32) p[RK_WAVE_P_HEIGHT];
  self->cells_d = (guint32) p[RK_WAVE_P_DEPTH];
  self->frame = self->frames_out = self->steps = self->impulses = self->param_changes = 0;
  self->drops_due = 0;
  self->rng = 0x2545f4914f6cdd1dull ^ node;
  self->tokens_out = 0;
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_have_context (GST_OBJECT (self),
          gst_rk_device_context_new (ops->name, device_id)));
  GST_INFO_OBJECT (self, "wave actor started on %s device %d: %ux%ux%u cells, %" G_GUINT64_FORMAT
      " bytes of frames", ops->name, device_id, self->cells_w, self->cells_h, self->cells_d, arena);
  return TRUE;
}

static gboolean
gst_rk_wave_src_stop (GstBaseSrc *src)
{
  GstRkWaveSrc *self = GST_RK_WAVE_SRC (src);
  if (!self->actor)
    return TRUE;
  rk_actor_interrupt (self->actor, FALSE);
  int r = rk_actor_stop (self->actor, STOP_TIMEOUT_NS);
  if (r < 0)
    GST_ELEMENT_WARNING (self, RESOURCE, CLOSE, ("The wave actor did not terminate cleanly."),
        ("rk_actor_stop: %s", g_strerror (-r)));
  GST_OBJECT_LOCK (self);
  rk_actor *actor = self->actor;
  rk_actor *peer = self->peer;
  self->actor = NULL;
  self->peer = NULL;
  self->link_out = FALSE;
  GST_OBJECT_UNLOCK (self);
  rk_actor_unref (actor); /* frames still downstream keep its output memory alive */
  if (peer)
    rk_actor_unref (peer); /* our actor has ended: the route is unused */
  return TRUE;
}

static gboolean
gst_rk_wave_src_unlock (GstBaseSrc *src)
{
  GstRkWaveSrc *self = GST_RK_WAVE_SRC (src);
  if (self->actor)
    rk_actor_interrupt (self->actor, TRUE);
  return TRUE;
}

static gboolean
gst_rk_wave_src_unlock_stop (GstBaseSrc *src)
{
  GstRkWaveSrc *self = GST_RK_WAVE_SRC (src);
  if (self->actor)
    rk_actor_interrupt (self->actor, FALSE);
  return TRUE;
}

/* ---- caps ---- */

static GstCaps *
gst_rk_wave_src_get_caps (GstBaseSrc *src, GstCaps *filter)
{
  GstRkWaveSrc *self = GST_RK_WAVE_SRC (src);
  GstCaps *tmpl = gst_pad_get_pad_template_caps (GST_BASE_SRC_PAD (src));
  /* frames in system memory: tokens of a K2K link replace them only once a route is agreed
   * (gst_rk_wave_src_negotiate) */
  GstCaps *caps = gst_caps_copy_nth (tmpl, 0);
  gst_caps_unref (tmpl);
  GST_OBJECT_LOCK (self);
  /* one pixel per cell, at the frame rate asked for */
  gst_caps_set_simple (caps, "width", G_TYPE_INT, (gint) self->width, "height", G_TYPE_INT,
      (gint) self->height, "framerate", GST_TYPE_FRACTION, self->fps_n, self->fps_d,
      "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
  GST_OBJECT_UNLOCK (self);
  if (filter) {
    GstCaps *t = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = t;
  }
  return caps;
}

static GstCaps *
gst_rk_wave_src_fixate (GstBaseSrc *src, GstCaps *caps)
{
  caps = gst_caps_make_writable (caps);
  /* RGBA (the colour map) unless downstream prefers otherwise */
  GstStructure *s = gst_caps_get_structure (caps, 0);
  gst_structure_fixate_field_string (s, "format", "RGBA");
  return GST_BASE_SRC_CLASS (gst_rk_wave_src_parent_class)->fixate (src, caps);
}

static gboolean
gst_rk_wave_src_set_caps (GstBaseSrc *src, GstCaps *caps)
{
  GstRkWaveSrc *self = GST_RK_WAVE_SRC (src);
  GstVideoInfo info;
  if (!gst_video_info_from_caps (&info, caps))
    return FALSE;
  switch (GST_VIDEO_INFO_FORMAT (&info)) {
    case GST_VIDEO_FORMAT_RGBA:
      self->format = RK_WAVE_FMT_RGBA;
      break;
    case GST_VIDEO_FORMAT_GRAY16_LE:
      self->format = RK_WAVE_FMT_GRAY16;
      break;
    default:
      return FALSE;
  }
  if ((guint) GST_VIDEO_INFO_WIDTH (&info) != self->cells_w
      || (guint) GST_VIDEO_INFO_HEIGHT (&info) != self->cells_h || GST_VIDEO_INFO_FPS_N (&info) <= 0)
    return FALSE;
  self->info = info;
  GST_INFO_OBJECT (self, "frames: %" GST_PTR_FORMAT, caps);
  return TRUE;
}

/* K2K: install the route (the LINK command) in the actor, or remove it (rt NULL), and wait for the
 * answer. The streaming thread calls this between frames, when nothing else is owed. */
static gboolean
send_link (GstRkWaveSrc *self, const rk_route *rt)
{
  rk_actor *a = self->actor;
  rk_record rec = { .hlc = rk_hlc_tick (&self->clock), .node = self->clock.node };
  rk_answer ans;
  int r = rk_actor_submit_link (a, &rec, rt, -1);
  if (r < 0)
    return FALSE;
  while ((r = rk_actor_receive (a, &ans, -1)) == -EINTR)
    rk_actor_interrupt (a, FALSE); /* a flush: the answer still comes, and is owed */
  if (r < 0)
    return FALSE;
  rk_actor_release_output (a, ans.out_token);
  if (ans.rec.status != RK_STATUS_OK)
    GST_WARNING_OBJECT (self, "the wave actor refused its K2K route: %s", rk_status_name (ans.rec.status));
  return ans.rec.status == RK_STATUS_OK;
}

/* Caps are first agreed as video in system memory. Then, where the element downstream is an actor on
 * the same backend and device that gives us a route to its inbox, the same caps go again as tokens
 * (memory:RKLink): from then on each frame is drawn straight into that inbox on the device, and only a
 * token with its timestamps crosses the pad. */
static gboolean
gst_rk_wave_src_negotiate (GstBaseSrc *src)
{
  GstRkWaveSrc *self = GST_RK_WAVE_SRC (src);
  if (!GST_BASE_SRC_CLASS (gst_rk_wave_src_parent_class)->negotiate (src))
    return FALSE;
  if (!self->actor)
    return TRUE;

  GST_OBJECT_LOCK (self);
  const GstRkLinkMode mode = self->link;
  const gboolean want = mode != GST_RK_LINK_HOST && self->mode == GST_RK_MODE_PERSISTENT;
  rk_actor *old = self->peer;
  const gboolean was = self->link_out;
  self->peer = NULL; /* every frame sent down the old route has been answered: it is unused */
  self->link_out = FALSE;
  GST_OBJECT_UNLOCK (self);

  rk_route rt;
  rk_link_path path = RK_LINK_HOST;
  rk_actor *peer = want ? gst_rk_query_route (GST_ELEMENT (self), GST_BASE_SRC_PAD (src), self->actor,
      mode, &rt, &path) : NULL;
  if (peer && send_link (self, &rt)) {
    GstCaps *caps = gst_pad_get_current_caps (GST_BASE_SRC_PAD (src));
    GstCaps *tokens = gst_caps_copy (caps);
    gst_caps_set_features (tokens, 0, gst_caps_features_new (GST_CAPS_FEATURE_MEMORY_RK_LINK, NULL));
    if (gst_base_src_set_caps (src, tokens)) {
      GST_OBJECT_LOCK (self);
      self->peer = g_steal_pointer (&peer);
      self->link_out = TRUE;
      self->out_route = rt.route_id;
      self->out_path = path;
      self->out_seq = (guint64) rt.route_id << 40;
      GST_OBJECT_UNLOCK (self);
      GST_INFO_OBJECT (self, "K2K: frames go down route %u into the downstream actor's inbox, path %s",
          rt.route_id, rk_link_path_name (path));
    } else {
      /* refused after all: the frames go as video again */
      send_link (self, NULL);
      gst_base_src_set_caps (src, caps);
    }
    gst_caps_unref (tokens);
    gst_caps_unref (caps);
  } else if (was) {
    send_link (self, NULL);
  }
  if (peer)
    rk_actor_unref (peer);
  if (old)
    rk_actor_unref (old);
  return TRUE;
}

static gboolean
gst_rk_wave_src_query (GstBaseSrc *src, GstQuery *query)
{
  GstRkWaveSrc *self = GST_RK_WAVE_SRC (src);
  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    GST_OBJECT_LOCK (self);
    gboolean live = self->is_live;
    GstClockTime frame = gst_util_uint64_scale_int (GST_SECOND, self->fps_d, self->fps_n);
    GST_OBJECT_UNLOCK (self);
    /* a live frame is drawn when its time comes: it leaves one frame after the time it stands for */
    gst_query_set_latency (query, live, live ? frame : 0, live ? frame : 0);
    return TRUE;
  }
  return GST_BASE_SRC_CLASS (gst_rk_wave_src_parent_class)->query (src, query);
}

/* Clicks in a video sink's window: an impulse where the pointer is (the sink gives stream coordinates,
 * one pixel per cell). */
static gboolean
gst_rk_wave_src_event (GstBaseSrc *src, GstEvent *event)
{
  GstRkWaveSrc *self = GST_RK_WAVE_SRC (src);
  if (GST_EVENT_TYPE (event) == GST_EVENT_NAVIGATION) {
    gdouble x, y;
    gint button;
    if (gst_navigation_event_get_type (event) == GST_NAVIGATION_EVENT_MOUSE_BUTTON_PRESS
        && gst_navigation_event_parse_mouse_button_event (event, &button, &x, &y)) {
      GST_OBJECT_LOCK (self);
      gdouble amplitude = button == 3 ? -self->amplitude : self->amplitude; /* right button: a dip */
      gdouble radius = self->radius;
      gint z = (gint) self->slice;
      GST_OBJECT_UNLOCK (self);
      gst_rk_wave_src_impulse (self, (gint) x, (gint) y, z, amplitude, radius);
      return TRUE;
    }
  }
  return GST_BASE_SRC_CLASS (gst_rk_wave_src_parent_class)->event (src, event);
}

/* ---- frames ---- */

static GstFlowReturn
gst_rk_wave_src_create (GstPushSrc *src, GstBuffer **buf)
{
  GstRkWaveSrc *self = GST_RK_WAVE_SRC (src);
  rk_actor *a = self->actor;
  rk_answer ans;
  GArray *cmds;
  int r = 0;

  GST_OBJECT_LOCK (self);
  cmds = self->pending;
  self->pending = g_array_new (FALSE, FALSE, sizeof (Pending));
  const guint32 steps = self->steps_per_frame;
  /* rain: drops at random places, as many per frame as asked for on average */
  for (self->drops_due += self->drops; self->drops_due >= 1.0; self->drops_due -= 1.0) {
    self->rng ^= self->rng << 13;
    self->rng ^= self->rng >> 7;
    self->rng ^= self->rng << 17;
    Pending p = {
      .imp = { .op = RK_WAVE_IMPULSE, .x = (int32_t) ((self->rng >> 8) % self->cells_w),
        .y = (int32_t) ((self->rng >> 32) % self->cells_h),
        .z = (int32_t) ((self->rng >> 48) % self->cells_d), .amplitude = (float) self->amplitude,
        .radius = (float) self->radius },
    };
    g_array_append_val (cmds, p);
  }
  GST_OBJECT_UNLOCK (self);

  /* the commands since the last frame, then the frame: one ring, in order */
  guint sent = 0;
  for (; sent < cmds->len && r == 0; sent++) {
    const Pending *p = &g_array_index (cmds, Pending, sent);
    rk_record rec = { .hlc = rk_hlc_tick (&self->clock), .node = self->clock.node };
    if (p->is_param) {
      rec.type = RK_CMD_SET_PARAM;
      rec.u.desc.aux = p->index;
      memcpy (&rec.u.desc.arg, &p->value, sizeof p->value);
      r = rk_actor_submit (a, &rec, NULL, 0, 0, -1);
    } else {
      rec.type = RK_CMD_PROCESS;
      r = rk_actor_submit (a, &rec, &p->imp, sizeof p->imp, 0, -1);
    }
  }
  if (r < 0) {
    sent--;
    /* what was not sent goes back in front of what came meanwhile */
    GST_OBJECT_LOCK (self);
    g_array_prepend_vals (self->pending, cmds->data + (gsize) sent * sizeof (Pending), cmds->len - sent);
    GST_OBJECT_UNLOCK (self);
  }
  const guint32 stride = GST_VIDEO_INFO_PLANE_STRIDE (&self->info, 0);
  rk_wave_frame f = { .op = RK_WAVE_FRAME, .steps = steps, .format = self->format, .stride = stride };
  const guint32 len = stride * self->cells_h;
  rk_record frame = { .type = RK_CMD_PROCESS, .hlc = rk_hlc_tick (&self->clock), .node = self->clock.node };
  const gboolean routed = self->link_out;
  if (routed) {
    /* K2K: drawn into the downstream actor's inbox as the record with this link sequence number */
    frame.flags = RK_REC_F_TO_ROUTE;
    frame.u.desc.out_off = self->out_seq;
  }
  if (r == 0) {
    r = rk_actor_submit (a, &frame, &f, sizeof f, len, -1);
    if (r == 0 && routed)
      self->out_seq++;
  }
  const guint expect = sent + (r == 0);
  guint got = 0;
  for (; got < expect; got++) {
    int rr = rk_actor_receive (a, &ans, -1);
    if (rr < 0) {
      /* an interrupted wait: the answers still come, and a flush restarts after them */
      r = rr;
      break;
    }
    if (got < sent) {
      const Pending *p = &g_array_index (cmds, Pending, got);
      if (ans.rec.status != RK_STATUS_OK)
        GST_ELEMENT_WARNING (self, LIBRARY, SETTINGS, ("The wave actor refused a command."),
            ("%s: %s", p->is_param ? "set parameter" : "impulse", rk_status_name (ans.rec.status)));
      else if (p->is_param)
        self->param_changes++;
      else
        self->impulses++;
      rk_actor_release_output (a, ans.out_token);
    }
  }
  g_array_free (cmds, TRUE);
  if (r < 0) {
    if (r == -EINTR) {
      /* drain what is still owed so that the ring and the next frame stay in step */
      rk_actor_interrupt (a, FALSE);
      for (; got < expect; got++)
        if (rk_actor_receive (a, &ans, -1) == 0)
          rk_actor_release_output (a, ans.out_token);
        else
          break;
      return GST_FLOW_FLUSHING;
    }
    return gst_rk_flow_from_errno (GST_ELEMENT (self), a, r, "drawing a frame");
  }
  if (routed && (ans.rec.status == RK_STATUS_CLOSED || ans.rec.status == RK_STATUS_CANCELLED)) {
    /* the downstream actor closed its inbox: it stops, or flushes */
    GST_DEBUG_OBJECT (self, "frame %" G_GUINT64_FORMAT ": %s", self->frame, rk_status_name (ans.rec.status));
    rk_actor_release_output (a, ans.out_token);
    return GST_FLOW_FLUSHING;
  }
  if (ans.rec.status != RK_STATUS_OK || ans.rec.len != len) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("The wave actor could not draw a frame."),
        ("status %s, %u bytes of %u", rk_status_name (ans.rec.status), ans.rec.len, len));
    rk_actor_release_output (a, ans.out_token);
    return GST_FLOW_ERROR;
  }

  GstBuffer *out;
  if (routed) {
    /* the frame is in the downstream inbox: a token says which record it is */
    out = gst_buffer_new ();
    gst_buffer_add_rk_link_meta (out, self->out_route, frame.u.desc.out_off, len);
    rk_actor_release_output (a, ans.out_token);
    self->tokens_out++;
  } else if (ans.out) {
    out = gst_rk_output_buffer (a, &ans, NULL);
  } else {
    out = gst_buffer_new_memdup (ans.rec.u.bytes, len);
    rk_actor_release_output (a, ans.out_token);
  }
  const gint fps_n = GST_VIDEO_INFO_FPS_N (&self->info), fps_d = GST_VIDEO_INFO_FPS_D (&self->info);
  GST_BUFFER_PTS (out) = gst_util_uint64_scale_int (self->frame * GST_SECOND, fps_d, fps_n);
  GST_BUFFER_DURATION (out) =
      gst_util_uint64_scale_int ((self->frame + 1) * GST_SECOND, fps_d, fps_n) - GST_BUFFER_PTS (out);
  GST_BUFFER_OFFSET (out) = self->frame;
  GST_BUFFER_OFFSET_END (out) = self->frame + 1;
  gst_buffer_add_rk_hlc_meta (out, ans.rec.hlc, ans.rec.node);
  self->frame++;
  self->frames_out++;
  self->steps += steps;
  *buf = out;
  return GST_FLOW_OK;
}
