/* gst-ringkernel: rkspectrum, a drop-in for GStreamer's spectrum element whose FFT lives in an actor.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-rkspectrum
 * @title: rkspectrum
 *
 * Analyses the frequency spectrum of audio as GStreamer's `spectrum` element does, with the same
 * properties and the same `spectrum` element messages on the bus, but in a persistent actor (a CUDA
 * kernel, or a host thread on the CPU backend): the window of the last frames, the FFT and the sums
 * over an interval live in the actor, across buffers. The audio passes through untouched.
 *
 * Each message has the fields `timestamp`, `stream-time`, `running-time`, `duration` and `endtime`,
 * and `magnitude` (dB, clamped below at the threshold) and `phase` (radians, averaged over the
 * interval's FFTs) as a list of floats per band, or with multi-channel=true an array per channel.
 *
 * Where it differs from `spectrum`: after a discontinuity the interval starts clean (spectrum keeps the
 * sums of the interrupted one), and S24 audio with multi-channel=false (mono too) is read frame by frame
 * (spectrum's S24 mix-down adds up every frame it has read).
 *
 * Messages are posted as the actor answers, after the buffer has gone downstream; all of them are on
 * the bus before the element passes EOS on.
 *
 * ## Example
 * |[
 * gst-launch-1.0 -m audiotestsrc freq=1000 num-buffers=50 ! rkspectrum bands=256 ! fakesink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstrkspectrum.h"

#include <string.h>

#include <gst/audio/audio.h>

#include "gstrkcommon.h"
#include "rk_hlc.h"
#include "rk_spectrum.h"

GST_DEBUG_CATEGORY_STATIC (gst_rk_spectrum_debug);
#define GST_CAT_DEFAULT gst_rk_spectrum_debug

#define DEFAULT_POST_MESSAGES TRUE
#define DEFAULT_MESSAGE_MAGNITUDE TRUE
#define DEFAULT_MESSAGE_PHASE FALSE
#define DEFAULT_INTERVAL (GST_SECOND / 10)
#define DEFAULT_BANDS 128
#define DEFAULT_THRESHOLD -60
#define DEFAULT_MULTI_CHANNEL FALSE
#define DEFAULT_BACKEND GST_RK_BACKEND_AUTO
#define DEFAULT_DEVICE_ID -1
#define DEFAULT_MODE GST_RK_MODE_PERSISTENT

#define RING_SIZE 64
#define IN_ARENA (4 * RK_SPECTRUM_MAX_COMMAND)
#define STOP_TIMEOUT_NS (10 * GST_SECOND)

enum {
  PROP_0,
  PROP_POST_MESSAGES,
  PROP_MESSAGE_MAGNITUDE,
  PROP_MESSAGE_PHASE,
  PROP_INTERVAL,
  PROP_BANDS,
  PROP_THRESHOLD,
  PROP_MULTI_CHANNEL,
  PROP_BACKEND,
  PROP_DEVICE_ID,
  PROP_MODE,
  PROP_STATS,
};

/* What the message of one interval carries besides the actor's answer. */
typedef struct {
  GstClockTime timestamp, stream_time, running_time, duration;
} Due;

/* A command in flight: the messages its answer completes. */
typedef struct {
  guint32 flags; /* the command's RK_SPECTRUM_F_* */
  gboolean post; /* post-messages: the intervals it ends become messages */
  guint32 n_due;
  guint64 ffts;
  Due *due;
} Flight;

struct _GstRkSpectrum {
  GstAudioFilter parent;

  /* properties (object lock) */
  gboolean post_messages, message_magnitude, message_phase, multi_channel;
  guint64 interval;
  guint bands;
  gint threshold;
  GstRkBackend backend;
  gint device_id;
  GstRkMode mode;
  gboolean reconfigure; /* bands, interval or multi-channel changed: a fresh actor (spectrum resets) */

  /* streaming thread */
  rk_actor *actor;
  guint32 format, channels, out_channels, rate, bps;
  guint32 max_events, max_frames; /* per command */
  rk_spectrum_planner plan;
  gboolean restart; /* the next command drops the sums (a discontinuity) */
  GstClockTime message_ts;
  rk_hlc clock;
  rk_spectrum_event *events;
  guint64 *lengths;
  gint run_device;

  /* the receiver: a thread that takes the actor's answers and posts the messages */
  GThread *receiver;
  GMutex lock;
  GCond cond;
  GQueue flights; /* Flight *, in submission order */
  gboolean failed;
  guint32 msg_channels; /* channels of the messages (multi-channel: the audio's) */
  guint32 msg_bands;
  gboolean msg_multi; /* multi-channel's form: an array per channel */
  guint64 buffers, frames, ffts, messages;
};

#define gst_rk_spectrum_parent_class parent_class
G_DEFINE_TYPE (GstRkSpectrum, gst_rk_spectrum, GST_TYPE_AUDIO_FILTER);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (rkspectrum, "rkspectrum", GST_RANK_NONE, GST_TYPE_RK_SPECTRUM,
    GST_DEBUG_CATEGORY_INIT (gst_rk_spectrum_debug, "rkspectrum", 0, "ringkernel spectrum analyser"));

#define FORMATS "{ S16LE, S24LE, S32LE, F32LE, F64LE }"

static void gst_rk_spectrum_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec);
static void gst_rk_spectrum_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec);
static void gst_rk_spectrum_finalize (GObject *object);
static gboolean gst_rk_spectrum_start (GstBaseTransform *trans);
static gboolean gst_rk_spectrum_stop (GstBaseTransform *trans);
static gboolean gst_rk_spectrum_sink_event (GstBaseTransform *trans, GstEvent *event);
static GstFlowReturn gst_rk_spectrum_transform_ip (GstBaseTransform *trans, GstBuffer *buf);
static gboolean gst_rk_spectrum_setup (GstAudioFilter *filter, const GstAudioInfo *info);

static void
gst_rk_spectrum_class_init (GstRkSpectrumClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstAudioFilterClass *filter_class = GST_AUDIO_FILTER_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags ready = rw | GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = gst_rk_spectrum_set_property;
  gobject_class->get_property = gst_rk_spectrum_get_property;
  gobject_class->finalize = gst_rk_spectrum_finalize;

  /* the properties of GStreamer's spectrum, with its names, ranges and defaults */
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post Messages",
          "Whether to post a 'spectrum' element message on the bus for each passed interval",
          DEFAULT_POST_MESSAGES, rw));
  g_object_class_install_property (gobject_class, PROP_MESSAGE_MAGNITUDE,
      g_param_spec_boolean ("message-magnitude", "Magnitude",
          "Whether to add a 'magnitude' field to the structure of any 'spectrum' element messages "
          "posted on the bus", DEFAULT_MESSAGE_MAGNITUDE, rw));
  g_object_class_install_property (gobject_class, PROP_MESSAGE_PHASE,
      g_param_spec_boolean ("message-phase", "Phase",
          "Whether to add a 'phase' field to the structure of any 'spectrum' element messages posted "
          "on the bus", DEFAULT_MESSAGE_PHASE, rw));
  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint64 ("interval", "Interval",
          "Interval of time between message posts (in nanoseconds)", 1, G_MAXUINT64,
          DEFAULT_INTERVAL, rw));
  g_object_class_install_property (gobject_class, PROP_BANDS,
      g_param_spec_uint ("bands", "Bands", "Number of frequency bands (an FFT of 2 * bands - 2 frames)",
          2, RK_SPECTRUM_MAX_BANDS, DEFAULT_BANDS, rw));
  g_object_class_install_property (gobject_class, PROP_THRESHOLD,
      g_param_spec_int ("threshold", "Threshold",
          "dB threshold for result. All lower values will be set to this", G_MININT, 0,
          DEFAULT_THRESHOLD, rw));
  g_object_class_install_property (gobject_class, PROP_MULTI_CHANNEL,
      g_param_spec_boolean ("multi-channel", "Multichannel results",
          "Send separate results for each channel", DEFAULT_MULTI_CHANNEL, rw));
  /* where the actor runs */
  g_object_class_install_property (gobject_class, PROP_BACKEND, gst_rk_param_spec_backend (FALSE));
  g_object_class_install_property (gobject_class, PROP_DEVICE_ID, gst_rk_param_spec_device_id (FALSE));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "persistent: one kernel serves every buffer for as long as the element runs; launch: kernel "
          "launches and a wait per buffer, the traditional way, for comparison (GPU backends only)",
          GST_TYPE_RK_MODE, DEFAULT_MODE, ready));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Counters: backend, device-id, buffers, frames, ffts (per analysed channel, counted also where "
          "neither magnitude nor phase is asked for and none runs), messages, in-flight (commands not "
          "answered yet)", GST_TYPE_STRUCTURE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_set_static_metadata (element_class, "Spectrum analyzer (ringkernel)",
      "Filter/Analyzer/Audio", "Run an FFT on the audio signal in a persistent GPU actor, output "
      "spectrum data as GStreamer's spectrum element does", "gst-ringkernel <gst-ringkernel@lists.invalid>");

  GstCaps *caps = gst_caps_from_string (GST_AUDIO_CAPS_MAKE (FORMATS) ", layout = (string) interleaved");
  gst_audio_filter_class_add_pad_templates (filter_class, caps);
  gst_caps_unref (caps);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_rk_spectrum_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_rk_spectrum_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_rk_spectrum_sink_event);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_rk_spectrum_transform_ip);
  trans_class->passthrough_on_same_caps = TRUE;
  filter_class->setup = GST_DEBUG_FUNCPTR (gst_rk_spectrum_setup);
}

static void
gst_rk_spectrum_init (GstRkSpectrum *self)
{
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->message_magnitude = DEFAULT_MESSAGE_MAGNITUDE;
  self->message_phase = DEFAULT_MESSAGE_PHASE;
  self->interval = DEFAULT_INTERVAL;
  self->bands = DEFAULT_BANDS;
  self->threshold = DEFAULT_THRESHOLD;
  self->multi_channel = DEFAULT_MULTI_CHANNEL;
  self->backend = DEFAULT_BACKEND;
  self->device_id = DEFAULT_DEVICE_ID;
  self->mode = DEFAULT_MODE;
  self->run_device = -1;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->flights);
}

static void
flight_free (Flight *f)
{
  g_free (f->due);
  g_free (f);
}

static void
gst_rk_spectrum_finalize (GObject *object)
{
  GstRkSpectrum *self = GST_RK_SPECTRUM (object);
  g_queue_clear_full (&self->flights, (GDestroyNotify) flight_free);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_rk_spectrum_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstRkSpectrum *self = GST_RK_SPECTRUM (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_POST_MESSAGES: self->post_messages = g_value_get_boolean (value); break;
    case PROP_MESSAGE_MAGNITUDE: self->message_magnitude = g_value_get_boolean (value); break;
    case PROP_MESSAGE_PHASE: self->message_phase = g_value_get_boolean (value); break;
    case PROP_THRESHOLD: self->threshold = g_value_get_int (value); break;
    case PROP_INTERVAL:
      self->reconfigure |= self->interval != g_value_get_uint64 (value);
      self->interval = g_value_get_uint64 (value);
      break;
    case PROP_BANDS:
      self->reconfigure |= self->bands != g_value_get_uint (value);
      self->bands = g_value_get_uint (value);
      break;
    case PROP_MULTI_CHANNEL:
      self->reconfigure |= self->multi_channel != g_value_get_boolean (value);
      self->multi_channel = g_value_get_boolean (value);
      break;
    case PROP_BACKEND: self->backend = g_value_get_enum (value); break;
    case PROP_DEVICE_ID: self->device_id = g_value_get_int (value); break;
    case PROP_MODE: self->mode = g_value_get_enum (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static GstStructure *
make_stats (GstRkSpectrum *self)
{
  g_mutex_lock (&self->lock);
  rk_actor *a = self->actor;
  GstStructure *s = gst_structure_new ("rkspectrum-stats", "backend", G_TYPE_STRING,
      a ? rk_actor_backend (a)->name : "none", "device-id", G_TYPE_INT, a ? self->run_device : -1,
      "buffers", G_TYPE_UINT64, self->buffers, "frames", G_TYPE_UINT64, self->frames, "ffts",
      G_TYPE_UINT64, self->ffts, "messages", G_TYPE_UINT64, self->messages, "in-flight", G_TYPE_UINT,
      g_queue_get_length (&self->flights), NULL);
  g_mutex_unlock (&self->lock);
  return s;
}

static void
gst_rk_spectrum_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstRkSpectrum *self = GST_RK_SPECTRUM (object);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, make_stats (self));
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_POST_MESSAGES: g_value_set_boolean (value, self->post_messages); break;
    case PROP_MESSAGE_MAGNITUDE: g_value_set_boolean (value, self->message_magnitude); break;
    case PROP_MESSAGE_PHASE: g_value_set_boolean (value, self->message_phase); break;
    case PROP_INTERVAL: g_value_set_uint64 (value, self->interval); break;
    case PROP_BANDS: g_value_set_uint (value, self->bands); break;
    case PROP_THRESHOLD: g_value_set_int (value, self->threshold); break;
    case PROP_MULTI_CHANNEL: g_value_set_boolean (value, self->multi_channel); break;
    case PROP_BACKEND: g_value_set_enum (value, self->backend); break;
    case PROP_DEVICE_ID: g_value_set_int (value, self->device_id); break;
    case PROP_MODE: g_value_set_enum (value, self->mode); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* ---- the messages ---- */

static void
append_floats (GValue *container, gboolean as_list, const float *v, guint n)
{
  for (guint i = 0; i < n; i++) {
    GValue f = G_VALUE_INIT;
    g_value_init (&f, G_TYPE_FLOAT);
    g_value_set_float (&f, v[i]);
    if (as_list)
      gst_value_list_append_and_take_value (container, &f);
    else
      gst_value_array_append_and_take_value (container, &f);
  }
}

/* The field `name` of a message: a list of floats for one channel, else an array of arrays. */
static void
set_values (GstStructure *s, const gchar *name, const float *v, guint channels, guint bands,
    gboolean multi)
{
  GValue outer = G_VALUE_INIT;
  if (!multi) {
    g_value_init (&outer, GST_TYPE_LIST);
    append_floats (&outer, TRUE, v, bands);
  } else {
    g_value_init (&outer, GST_TYPE_ARRAY);
    for (guint c = 0; c < channels; c++) {
      GValue inner = G_VALUE_INIT;
      g_value_init (&inner, GST_TYPE_ARRAY);
      append_floats (&inner, FALSE, v + (gsize) c * bands, bands);
      gst_value_array_append_and_take_value (&outer, &inner);
    }
  }
  gst_structure_take_value (s, name, &outer);
}

static GstMessage *
message_new (GstRkSpectrum *self, const Due *d, guint32 flags, const float *values, guint channels,
    guint bands, gboolean multi)
{
  GstStructure *s = gst_structure_new ("spectrum", "endtime", GST_TYPE_CLOCK_TIME,
      d->stream_time + d->duration, "timestamp", G_TYPE_UINT64, d->timestamp, "stream-time",
      G_TYPE_UINT64, d->stream_time, "running-time", G_TYPE_UINT64, d->running_time, "duration",
      G_TYPE_UINT64, d->duration, NULL);
  const gsize block = (gsize) channels * bands;
  if (flags & RK_SPECTRUM_F_MAGNITUDE) {
    set_values (s, "magnitude", values, channels, bands, multi);
    values += block;
  }
  if (flags & RK_SPECTRUM_F_PHASE)
    set_values (s, "phase", values, channels, bands, multi);
  return gst_message_new_element (GST_OBJECT (self), s);
}

/* The receiver thread: every answer, in order, becomes the messages of the intervals it ends. */
static gpointer
receiver_main (gpointer data)
{
  GstRkSpectrum *self = data;
  rk_actor *a = self->actor;

  for (;;) {
    rk_answer ans;
    int r = rk_actor_receive (a, &ans, -1);
    g_mutex_lock (&self->lock);
    if (r < 0) {
      const gboolean stopping = r == -EINTR;
      if (!stopping)
        self->failed = TRUE;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      if (!stopping)
        gst_rk_flow_from_errno (GST_ELEMENT (self), a, r, "analysing audio");
      return NULL;
    }
    /* it leaves the queue only once its messages are posted: drain () waits for that */
    Flight *f = g_queue_peek_head (&self->flights);
    const guint channels = self->msg_channels, bands = self->msg_bands;
    const gboolean multi = self->msg_multi;
    g_mutex_unlock (&self->lock);

    const guint per = ((f->flags & RK_SPECTRUM_F_MAGNITUDE) != 0) + ((f->flags & RK_SPECTRUM_F_PHASE) != 0);
    const gsize want = (gsize) f->n_due * per * channels * bands * sizeof (float);
    if (ans.rec.status != RK_STATUS_OK || ans.rec.len != want) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("The spectrum actor could not analyse the audio."),
          ("status %s, %u bytes of %" G_GSIZE_FORMAT, rk_status_name (ans.rec.status), ans.rec.len, want));
      g_mutex_lock (&self->lock);
      self->failed = TRUE;
    } else {
      const float *v = (const float *) (const void *) rk_answer_data (&ans);
      for (guint i = 0; f->post && i < f->n_due; i++) {
        gst_element_post_message (GST_ELEMENT (self),
            message_new (self, &f->due[i], f->flags, v, channels, bands, multi));
        v += (gsize) per * channels * bands;
      }
      g_mutex_lock (&self->lock);
      self->messages += f->post ? f->n_due : 0;
      self->ffts += f->ffts;
    }
    rk_actor_release_output (a, ans.out_token);
    g_queue_pop_head (&self->flights);
    flight_free (f);
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
  }
}

/* Wait until every command submitted has been answered (and its messages posted). */
static gboolean
drain (GstRkSpectrum *self)
{
  g_mutex_lock (&self->lock);
  while (!g_queue_is_empty (&self->flights) && !self->failed && self->receiver)
    g_cond_wait (&self->cond, &self->lock);
  const gboolean ok = !self->failed;
  g_mutex_unlock (&self->lock);
  return ok;
}

/* ---- the actor ---- */

static void
stop_actor (GstRkSpectrum *self)
{
  if (!self->actor)
    return;
  drain (self);
  rk_actor_interrupt (self->actor, TRUE); /* ends the receiver's wait */
  g_thread_join (self->receiver);
  self->receiver = NULL;
  rk_actor_interrupt (self->actor, FALSE);
  int r = rk_actor_stop (self->actor, STOP_TIMEOUT_NS);
  if (r < 0)
    GST_ELEMENT_WARNING (self, RESOURCE, CLOSE, ("The spectrum actor did not terminate cleanly."),
        ("rk_actor_stop: %s", g_strerror (-r)));
  g_mutex_lock (&self->lock);
  rk_actor *a = self->actor;
  self->actor = NULL;
  g_queue_clear_full (&self->flights, (GDestroyNotify) flight_free);
  g_mutex_unlock (&self->lock);
  rk_actor_unref (a);
  g_clear_pointer (&self->events, g_free);
  g_clear_pointer (&self->lengths, g_free);
}

static guint32
format_code (GstAudioFormat f)
{
  switch (f) {
    case GST_AUDIO_FORMAT_S16LE: return RK_SPECTRUM_S16;
    case GST_AUDIO_FORMAT_S24LE: return RK_SPECTRUM_S24;
    case GST_AUDIO_FORMAT_S32LE: return RK_SPECTRUM_S32;
    case GST_AUDIO_FORMAT_F32LE: return RK_SPECTRUM_F32;
    case GST_AUDIO_FORMAT_F64LE: return RK_SPECTRUM_F64;
    default: return 0;
  }
}

static gboolean
start_actor (GstRkSpectrum *self)
{
  GstAudioFilter *filter = GST_AUDIO_FILTER (self);
  double p[RK_MAX_PARAMS] = { 0 };
  char why[1024] = "";

  GST_OBJECT_LOCK (self);
  const guint bands = self->bands;
  const gboolean multi = self->multi_channel;
  const guint64 interval = self->interval;
  GstRkBackend backend = self->backend;
  gint device_id = self->device_id;
  GstRkMode mode = self->mode;
  self->reconfigure = FALSE;
  GST_OBJECT_UNLOCK (self);

  self->format = format_code (GST_AUDIO_INFO_FORMAT (&filter->info));
  self->channels = GST_AUDIO_INFO_CHANNELS (&filter->info);
  self->rate = GST_AUDIO_INFO_RATE (&filter->info);
  self->bps = rk_spectrum_bps (self->format);
  self->out_channels = multi ? self->channels : 1;
  p[RK_SPECTRUM_P_BANDS] = bands;
  p[RK_SPECTRUM_P_CHANNELS] = self->out_channels;
  if (self->channels > RK_SPECTRUM_MAX_CHANNELS || !rk_spectrum_state_size (p)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("%u bands over %u channels are more than the spectrum actor holds (%u channels, 1 GiB).",
            bands, self->channels, RK_SPECTRUM_MAX_CHANNELS), (NULL));
    return FALSE;
  }
  const rk_backend_ops *ops = gst_rk_choose_backend (GST_ELEMENT (self), backend, &device_id);
  if (!ops)
    return FALSE;

  /* an answer holds the magnitudes and phases of every interval its command ends: room for at least
   * 16 intervals per command, 4 commands in flight */
  const guint64 per_end = 2ull * self->out_channels * bands * sizeof (float);
  guint64 out_arena = MAX (per_end * 64, 1u << 20);
  out_arena = MIN (out_arena, 1ull << 30);
  out_arena = (out_arena + RK_ARENA_ALIGN - 1) / RK_ARENA_ALIGN * RK_ARENA_ALIGN;
  if (per_end * 4 > out_arena) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%u bands over %u channels give messages too large.",
            bands, self->out_channels), (NULL));
    return FALSE;
  }
  self->max_events = (guint32) MIN (RK_SPECTRUM_MAX_EVENTS, out_arena / 4 / per_end);
  self->max_frames = (RK_SPECTRUM_MAX_COMMAND - sizeof (rk_spectrum_cmd) - 8
      - self->max_events * sizeof (rk_spectrum_event)) / (self->channels * self->bps);

  guint32 node = gst_rk_new_node_pair ();
  rk_actor_config cfg = {
    .backend = ops,
    .device_id = device_id,
    .handler = rk_handler_find ("spectrum"),
    .mode = (rk_actor_mode) mode,
    .ring_entries = RING_SIZE,
    .in_arena_size = IN_ARENA,
    .out_arena_size = out_arena,
    .node = node | 1,
    .params = p,
  };
  rk_actor *actor = NULL;
  int r = rk_actor_new (&cfg, &actor, why, sizeof why);
  if (r < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("Could not start the %s spectrum actor: %s.",
            ops->name, why), ("error %d", r));
    return FALSE;
  }
  rk_hlc_init (&self->clock, node);
  rk_spectrum_planner_init (&self->plan, bands, interval, self->rate);
  self->restart = FALSE;
  self->message_ts = GST_CLOCK_TIME_NONE;
  self->events = g_new (rk_spectrum_event, self->max_events);
  self->lengths = g_new (guint64, self->max_events);
  g_mutex_lock (&self->lock);
  self->actor = actor;
  self->failed = FALSE;
  self->msg_channels = self->out_channels;
  self->msg_bands = bands;
  self->msg_multi = multi;
  g_mutex_unlock (&self->lock);
  self->run_device = device_id;
  self->receiver = g_thread_new ("rkspectrum-answers", receiver_main, self);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_have_context (GST_OBJECT (self),
          gst_rk_device_context_new (ops->name, device_id)));
  GST_INFO_OBJECT (self, "spectrum actor started on %s device %d: %u bands, %u of %u channels, "
      "%u Hz, up to %u frames and %u events per command", ops->name, device_id, bands,
      self->out_channels, self->channels, self->rate, self->max_frames, self->max_events);
  return TRUE;
}

static gboolean
gst_rk_spectrum_setup (GstAudioFilter *filter, const GstAudioInfo *info)
{
  GstRkSpectrum *self = GST_RK_SPECTRUM (filter);
  /* new caps: what is in flight is posted, then a fresh actor at the next buffer (spectrum resets) */
  stop_actor (self);
  return format_code (GST_AUDIO_INFO_FORMAT (info)) != 0;
}

static gboolean
gst_rk_spectrum_start (GstBaseTransform *trans)
{
  GstRkSpectrum *self = GST_RK_SPECTRUM (trans);
  g_mutex_lock (&self->lock);
  self->buffers = self->frames = self->ffts = self->messages = 0;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
gst_rk_spectrum_stop (GstBaseTransform *trans)
{
  stop_actor (GST_RK_SPECTRUM (trans));
  return TRUE;
}

static gboolean
gst_rk_spectrum_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstRkSpectrum *self = GST_RK_SPECTRUM (trans);
  /* every message of the stream goes on the bus before EOS goes on */
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->actor && !drain (self)) {
    gst_event_unref (event);
    return FALSE;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

/* ---- buffers ---- */

static GstFlowReturn
gst_rk_spectrum_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstRkSpectrum *self = GST_RK_SPECTRUM (trans);
  GstMapInfo map;
  GstFlowReturn ret = GST_FLOW_OK;

  GST_OBJECT_LOCK (self);
  const gboolean reconfigure = self->reconfigure;
  /* what spectrum computes does not depend on post-messages (so that turning it on mid-interval
   * gives the same sums) */
  guint32 flags = (self->message_magnitude ? RK_SPECTRUM_F_MAGNITUDE : 0)
      | (self->message_phase ? RK_SPECTRUM_F_PHASE : 0);
  const gboolean post = self->post_messages;
  const gint threshold = self->threshold;
  const guint64 interval = self->interval;
  GST_OBJECT_UNLOCK (self);

  if (reconfigure)
    stop_actor (self);
  if (!self->actor && !start_actor (self))
    return GST_FLOW_ERROR;
  g_mutex_lock (&self->lock);
  const gboolean failed = self->failed;
  g_mutex_unlock (&self->lock);
  if (failed)
    return GST_FLOW_ERROR;
  if (self->out_channels == 1 && self->channels > 1)
    flags |= RK_SPECTRUM_F_MIX;

  if (GST_BUFFER_IS_DISCONT (buf)) {
    GST_DEBUG_OBJECT (self, "discontinuity: the interval starts again");
    rk_spectrum_planner_flush (&self->plan);
    self->restart = TRUE;
  }
  if (self->plan.num_frames == 0)
    self->message_ts = GST_BUFFER_TIMESTAMP (buf);

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Could not read the audio buffer."), (NULL));
    return GST_FLOW_ERROR;
  }
  const guint32 bpf = self->channels * self->bps;
  guint32 total = (guint32) MIN (map.size / bpf, G_MAXUINT32), done = 0;

  while (done < total) {
    guint32 n = 0;
    const guint32 frames = rk_spectrum_plan (&self->plan, MIN (total - done, self->max_frames),
        self->events, self->max_events, &n, self->lengths);
    Flight *f = g_new0 (Flight, 1);
    f->flags = flags | (self->restart ? RK_SPECTRUM_F_RESTART : 0);
    f->post = post;
    for (guint32 i = 0; i < n; i++) {
      f->n_due += (self->events[i].kind & RK_SPECTRUM_EV_END) != 0;
      f->ffts += (self->events[i].kind & RK_SPECTRUM_EV_FFT) ? self->out_channels : 0;
    }
    f->due = g_new (Due, MAX (f->n_due, 1));
    for (guint32 i = 0, k = 0; i < n; i++) {
      if (!(self->events[i].kind & RK_SPECTRUM_EV_END))
        continue;
      Due *d = &f->due[k++];
      d->timestamp = self->message_ts;
      d->running_time = gst_segment_to_running_time (&trans->segment, GST_FORMAT_TIME, self->message_ts);
      d->stream_time = gst_segment_to_stream_time (&trans->segment, GST_FORMAT_TIME, self->message_ts);
      d->duration = interval;
      if (GST_CLOCK_TIME_IS_VALID (self->message_ts))
        self->message_ts += gst_util_uint64_scale (self->lengths[i], GST_SECOND, self->rate);
    }
    const guint per = ((flags & RK_SPECTRUM_F_MAGNITUDE) != 0) + ((flags & RK_SPECTRUM_F_PHASE) != 0);
    const guint32 out_cap = f->n_due * per * self->out_channels * self->msg_bands * sizeof (float);
    rk_spectrum_cmd head = { .format = self->format, .channels = self->channels, .frames = frames,
      .flags = f->flags, .threshold = threshold };
    const guint32 len = rk_spectrum_command_size (self->format, self->channels, frames, n);
    rk_input in;
    int r = rk_actor_reserve_input (self->actor, len, &in, -1);
    if (r == 0) {
      rk_spectrum_command_write (in.ptr, &head, self->events, n, map.data + (gsize) done * bpf);
      rk_record rec = { .type = RK_CMD_PROCESS, .hlc = rk_hlc_tick (&self->clock),
        .node = self->clock.node };
      g_mutex_lock (&self->lock);
      g_queue_push_tail (&self->flights, f); /* before the answer can come */
      g_mutex_unlock (&self->lock);
      r = rk_actor_submit_input (self->actor, &rec, &in, out_cap, -1);
      if (r < 0) {
        g_mutex_lock (&self->lock);
        g_queue_remove (&self->flights, f);
        g_mutex_unlock (&self->lock);
        rk_actor_release_input (self->actor, &in);
      }
    }
    if (r < 0) {
      flight_free (f);
      ret = gst_rk_flow_from_errno (GST_ELEMENT (self), self->actor, r, "taking audio");
      break;
    }
    self->restart = FALSE;
    done += frames;
  }
  gst_buffer_unmap (buf, &map);
  g_mutex_lock (&self->lock);
  self->buffers++;
  self->frames += done;
  g_mutex_unlock (&self->lock);
  return ret;
}
