/* rkspectrum against GStreamer's spectrum (gst-plugins-good): the same deterministic audio (tones plus
 * a little seeded noise, in buffers of varied lengths: 1 frame, empty, shorter than an FFT, spanning
 * several intervals, longer than one actor command) goes through `appsrc ! spectrum ! appsink` and
 * through `appsrc ! rkspectrum ! appsink` with the same properties, and every "spectrum" message of the
 * two is compared: their number, the time fields (timestamp, stream-time, running-time shifted by a pad
 * offset, duration, endtime), the fields present, their types and shapes (a list, or an array of
 * arrays with multi-channel), the magnitudes and the phases within the tolerances below.
 * Formats S16LE, S24LE, S32LE, F32LE, F64LE; 1, 2 and 6 channels; multi-channel on and off; bands 2,
 * 33, 128, 1000, 1024; intervals of 100 ms, 10 ms, 33333333 ns (not a whole number of frames, at 44100
 * and 48000 Hz), 1 ms (shorter than an FFT) and 10 us (shorter than a frame); thresholds 0 .. -120;
 * message-phase on, message-magnitude off, post-messages off.
 *
 * Every run of rkspectrum also checks: the audio comes out untouched (the same bytes, buffers and
 * timestamps as went in); no "spectrum" message reaches the bus after EOS (nor while the element
 * stops); the number of messages and their times follow a model of spectrum's interval counting
 * written here; the stats (buffers, frames, ffts, messages, in-flight, backend) match what was pushed
 * and received.
 *
 * Then: every message is on the bus before EOS even when the answer thread posts the last one slowly;
 * caps it does not take are refused at negotiation (not-negotiated); bands changed in READY and in NULL
 * between runs; bands, interval, multi-channel and threshold set while PLAYING; new caps in the middle
 * of the stream; a DISCONT in the middle of an interval.
 *
 * Documented differences, not compared: the interval that starts at a DISCONT (spectrum keeps the
 * interrupted interval's sums, rkspectrum starts clean: test_discont checks that it does, against
 * spectrum on a stream that starts there); S24LE with multi-channel=false (spectrum's S24 mix-down
 * accumulates across frames, and spectrum uses it whenever multi-channel=false, with one channel too):
 * S24 is compared with multi-channel=true, mono included.
 * Not compared either: multi-channel changed while PLAYING against spectrum changed while PLAYING
 * (spectrum keeps the sample reader it chose for the caps; see test_changes_while_playing).
 * Also compared: with message-magnitude=false and message-phase=false, messages with the times only
 * (test_times_only); post-messages set to true in the middle of an interval, whose message averages
 * every FFT of it (test_post_messages_on_while_playing).
 *
 * The backend comes from RKSPECTRUM_BACKEND (default cpu), so that the same tests run on a GPU.
 * RKSPECTRUM_TEST_VERBOSE=1 prints the worst differences of each compared case. */
#include <math.h>
#include <string.h>

#include <gst/app/app.h>
#include <gst/audio/audio.h>
#include <gst/check/gstcheck.h>

/* Tolerances, from what was measured (CPU backend, against spectrum 1.22 on x86-64: kiss_fft there, a
 * mixed-radix Stockham FFT here, both in float; most cases agree to the bit; RKSPECTRUM_TEST_VERBOSE=1
 * prints the worst differences per case):
 * - magnitudes at or above MAG_TOL_LEVEL (-60 dB): within MAG_TOL_DB = 1e-3 dB (worst seen 2.3e-5 dB);
 * - below it (thresholds of -70 .. -120 dB): the FFTs' rounding errors are absolute, not relative, so
 *   a band 20 dB lower has about ten times the error in dB: within MAG_TOL_DB times the amplitude
 *   ratio 10^((MAG_TOL_LEVEL - m) / 20), m the lower of the two magnitudes (worst seen 0.15 of that,
 *   e.g. 1.7e-3 dB at about -100 dB);
 * - phases, of bands at least PHASE_MIN_ABOVE dB above the threshold, after the wrap-around allowance
 *   of phase_diff (): within PHASE_TOL_RAD = 1e-4 rad, times the same ratio below MAG_TOL_LEVEL (worst
 *   seen 5.2e-5 rad, 0.18 of its tolerance, in bands at -60 .. -80 dB; at -60 dB and above 1.8e-6
 *   rad). */
#define MAG_TOL_DB 1e-3
#define MAG_TOL_LEVEL (-60.0)
#define PHASE_TOL_RAD 1e-4
/* Phases are compared only where the band's magnitude is this far above the threshold. */
#define PHASE_MIN_ABOVE 20.0

static const gchar *
backend (void)
{
  const gchar *b = g_getenv ("RKSPECTRUM_BACKEND");
  return b && *b ? b : "cpu";
}

static gboolean
verbose (void)
{
  return g_getenv ("RKSPECTRUM_TEST_VERBOSE") != NULL;
}

/* ---- the audio ---- */

/* A small deterministic generator (xorshift64*), the same on every machine. */
static guint64
rng_next (guint64 *s)
{
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1Dull;
}

static guint32
rng_range (guint64 *s, guint32 lo, guint32 hi) /* lo .. hi inclusive */
{
  return lo + (guint32) (rng_next (s) % ((guint64) hi - lo + 1));
}

static double
rng_unit (guint64 *s) /* -1 .. 1 */
{
  return (double) (rng_next (s) >> 11) / (double) (1ull << 52) - 1.0;
}

typedef struct _Audio {
  GstAudioInfo info;
  guint8 *data;
  guint64 frames;
  GArray *sizes;        /* guint: frames of each buffer */
  GArray *discont;      /* gboolean: the buffer is flagged DISCONT (and its timestamp jumps) */
  GstClockTime start;   /* the first buffer's timestamp */
  GstClockTime jump;    /* added to the timestamps from each DISCONT buffer on */
  GstClockTimeDiff offset; /* set on appsrc's pad: running-time = timestamp + offset */
  const struct _Audio *then; /* pushed after this one, with its caps (not owned) */
} Audio;

/* Frames of audio in buffers of varied lengths. The first buffers are 1 and 7 frames (shorter than any
 * FFT here), then one of three intervals and a bit, an empty one, then random lengths: short, around
 * an FFT, up to several intervals, and now and then a long one (20000 to 60000 frames) that the element
 * splits into several commands when its frames are large (6 channels of F64: 43000 frames a command)
 * or when it ends many intervals (a command ends at most 16 intervals of 1000 bands and 6 channels). */
static Audio *
audio_new (GstAudioFormat format, guint channels, guint rate, guint64 frames, guint64 interval,
    guint bands, guint64 seed)
{
  Audio *a = g_new0 (Audio, 1);
  gst_audio_info_set_format (&a->info, format, rate, channels, NULL);
  const guint bpf = GST_AUDIO_INFO_BPF (&a->info), bps = GST_AUDIO_INFO_BPS (&a->info);
  a->frames = frames;
  a->data = g_malloc ((gsize) frames * bpf);
  a->start = 250 * GST_MSECOND;
  a->offset = 3 * GST_SECOND;
  guint64 s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (guint64 f = 0; f < frames; f++) {
    const double t = (double) f / rate;
    for (guint c = 0; c < channels; c++) {
      double v = 0.35 * sin (2 * G_PI * (440.0 + 97.3 * c) * t + 0.3 * c)
          + 0.2 * sin (2 * G_PI * (2500.0 + 311.0 * c) * t + 1.1)
          + 0.05 * sin (2 * G_PI * (7000.0 - 450.0 * c) * t) + 0.01 * rng_unit (&s);
      guint8 *p = a->data + (gsize) f * bpf + (gsize) c * bps;
      switch (format) {
        case GST_AUDIO_FORMAT_S16LE: GST_WRITE_UINT16_LE (p, (guint16) lrint (v * 32767)); break;
        case GST_AUDIO_FORMAT_S24LE: GST_WRITE_UINT24_LE (p, (guint32) lrint (v * 8388607)); break;
        case GST_AUDIO_FORMAT_S32LE: GST_WRITE_UINT32_LE (p, (guint32) lrint (v * 2147483647.0)); break;
        case GST_AUDIO_FORMAT_F32LE: GST_WRITE_FLOAT_LE (p, (float) v); break;
        case GST_AUDIO_FORMAT_F64LE: GST_WRITE_DOUBLE_LE (p, v); break;
        default: g_assert_not_reached ();
      }
    }
  }
  a->sizes = g_array_new (FALSE, FALSE, sizeof (guint));
  a->discont = g_array_new (FALSE, TRUE, sizeof (gboolean));
  const guint nfft = 2 * bands - 2;
  const guint64 fpi = MAX (gst_util_uint64_scale (interval, rate, GST_SECOND), 1);
  guint64 done = 0;
  for (guint i = 0; done < frames; i++) {
    guint64 n;
    if (i == 0)
      n = 1;
    else if (i == 1)
      n = 7;
    else if (i == 2)
      n = 3 * fpi + 17;
    else if (i == 3)
      n = 0; /* an empty buffer */
    else {
      switch (rng_range (&s, 0, 9)) {
        case 0: case 1: case 2: n = rng_range (&s, 1, MAX (nfft / 2, 2)); break;
        case 3: case 4: case 5: n = rng_range (&s, MAX (nfft / 2, 1), 2 * nfft + 3); break;
        case 6: case 7: case 8: n = rng_range (&s, 1, (guint32) MIN (3 * fpi + nfft, 100000)); break;
        default: n = rng_range (&s, 20000, 60000); break;
      }
    }
    n = MIN (n, frames - done);
    guint u = (guint) n;
    gboolean no = FALSE;
    g_array_append_val (a->sizes, u);
    g_array_append_val (a->discont, no);
    done += n;
  }
  return a;
}

static void
audio_free (Audio *a)
{
  g_free (a->data);
  g_array_unref (a->sizes);
  g_array_unref (a->discont);
  g_free (a);
}

/* The same audio from buffer d (frame at) on, as a stream of its own starting with that buffer. */
static Audio *
audio_tail (const Audio *a, guint d, guint64 at, GstClockTime start)
{
  Audio *t = g_new0 (Audio, 1);
  const guint bpf = GST_AUDIO_INFO_BPF (&a->info);
  t->info = a->info;
  t->frames = a->frames - at;
  t->data = g_memdup2 (a->data + (gsize) at * bpf, (gsize) t->frames * bpf);
  t->sizes = g_array_new (FALSE, FALSE, sizeof (guint));
  g_array_append_vals (t->sizes, &g_array_index (a->sizes, guint, d), a->sizes->len - d);
  t->discont = g_array_new (FALSE, TRUE, sizeof (gboolean));
  g_array_set_size (t->discont, t->sizes->len);
  t->start = start;
  t->offset = a->offset;
  return t;
}

static guint
audio_buffers (const Audio *a)
{
  return a->sizes->len;
}

/* The timestamp of the buffer that starts at frame f, index i. */
static GstClockTime
audio_pts (const Audio *a, guint i, guint64 f)
{
  GstClockTime t = a->start + gst_util_uint64_scale (f, GST_SECOND, GST_AUDIO_INFO_RATE (&a->info));
  for (guint j = 1; j <= i; j++)
    if (g_array_index (a->discont, gboolean, j))
      t += a->jump;
  return t;
}

/* ---- a run through one element ---- */

typedef struct {
  GPtrArray *msgs;       /* GstStructure *: the "spectrum" messages, in bus order */
  guint late;            /* "spectrum" messages found on the bus after EOS */
  GstStructure *stats;   /* rkspectrum's, read after EOS */
} Run;

static void
run_clear (Run *r)
{
  g_ptr_array_unref (r->msgs);
  if (r->stats)
    gst_structure_free (r->stats);
}

/* Check one output buffer against the input buffer i (frames from f): untouched. */
static void
check_out_buffer (const Audio *a, GstSample *s, guint i, guint64 f)
{
  GstBuffer *b = gst_sample_get_buffer (s);
  const guint bpf = GST_AUDIO_INFO_BPF (&a->info), n = g_array_index (a->sizes, guint, i);
  GstMapInfo map;
  fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
  fail_unless_equals_uint64 (map.size, (guint64) n * bpf);
  fail_unless (memcmp (map.data, a->data + (gsize) f * bpf, map.size) == 0,
      "output buffer %u differs from the input", i);
  gst_buffer_unmap (b, &map);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), audio_pts (a, i, f));
}

/* Push buffer i of the audio (frames from f). Returns its frames. */
static guint
push_buffer (GstAppSrc *src, const Audio *a, guint i, guint64 f)
{
  const guint bpf = GST_AUDIO_INFO_BPF (&a->info), rate = GST_AUDIO_INFO_RATE (&a->info);
  const guint n = g_array_index (a->sizes, guint, i);
  GstBuffer *b = n ? gst_buffer_new_memdup (a->data + (gsize) f * bpf, (gsize) n * bpf)
                   : gst_buffer_new ();
  GST_BUFFER_PTS (b) = audio_pts (a, i, f);
  GST_BUFFER_DURATION (b) = gst_util_uint64_scale (n, GST_SECOND, rate);
  GST_BUFFER_OFFSET (b) = f;
  GST_BUFFER_OFFSET_END (b) = f + n;
  if (g_array_index (a->discont, gboolean, i))
    GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
  fail_unless_equals_int (gst_app_src_push_buffer (src, b), GST_FLOW_OK);
  return n;
}

/* Push the audio (and a->then's after it, with its caps) through `appsrc ! <element> <props> !
 * appsink`; with change_at > 0, set the property change_prop to change_value (a string, as gst-launch
 * takes it) once the first change_at buffers have come out. Collects the messages, checks the output,
 * and that no message comes after EOS. */
static Run
run_element (const gchar *element, const gchar *props, const Audio *a, guint change_at,
    const gchar *change_prop, const gchar *change_value)
{
  Run r = { .msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free) };
  const gboolean rk = g_str_equal (element, "rkspectrum");
  gchar *desc = g_strdup_printf ("appsrc name=src format=time ! %s name=el %s%s %s ! "
      "appsink name=sink sync=false wait-on-eos=false", element, rk ? "backend=" : "",
      rk ? backend () : "", props);
  GError *err = NULL;
  GstElement *pipe = gst_parse_launch (desc, &err);
  fail_unless (pipe != NULL && err == NULL, "%s: %s", desc, err ? err->message : "");
  g_free (desc);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstElement *el = gst_bin_get_by_name (GST_BIN (pipe), "el");
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (pipe), "sink"));
  GstCaps *caps = gst_audio_info_to_caps (&a->info);
  g_object_set (src, "caps", caps, NULL);
  gst_caps_unref (caps);
  GstPad *pad = gst_element_get_static_pad (src, "src");
  gst_pad_set_offset (pad, a->offset);
  gst_object_unref (pad);
  GstBus *bus = gst_element_get_bus (pipe);
  fail_if (gst_element_set_state (pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);

  guint64 f = 0, pulled_f = 0;
  guint pulled = 0;
  for (guint i = 0; i < audio_buffers (a); i++) {
    if (change_at && i == change_at) {
      /* wait until every buffer so far has been through the element */
      for (; pulled < i; pulled++) {
        GstSample *s = gst_app_sink_pull_sample (sink);
        fail_unless (s != NULL, "buffer %u did not come out", pulled);
        check_out_buffer (a, s, pulled, pulled_f);
        pulled_f += g_array_index (a->sizes, guint, pulled);
        gst_sample_unref (s);
      }
      gst_util_set_object_arg (G_OBJECT (el), change_prop, change_value);
    }
    f += push_buffer (GST_APP_SRC (src), a, i, f);
  }
  if (a->then) {
    /* new caps, then the next audio */
    caps = gst_audio_info_to_caps (&a->then->info);
    gst_app_src_set_caps (GST_APP_SRC (src), caps);
    gst_caps_unref (caps);
    for (guint i = 0, g = 0; i < audio_buffers (a->then); i++)
      g += push_buffer (GST_APP_SRC (src), a->then, i, g);
  }
  fail_unless_equals_int (gst_app_src_end_of_stream (GST_APP_SRC (src)), GST_FLOW_OK);

  gboolean eos = FALSE;
  while (!eos) {
    GstMessage *m = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING | GST_MESSAGE_ELEMENT);
    fail_unless (m != NULL, "%s: no EOS", element);
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR || GST_MESSAGE_TYPE (m) == GST_MESSAGE_WARNING) {
      GError *e = NULL;
      gchar *dbg = NULL;
      if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR)
        gst_message_parse_error (m, &e, &dbg);
      else
        gst_message_parse_warning (m, &e, &dbg);
      fail ("%s: %s (%s)", element, e->message, dbg);
    }
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS)
      eos = TRUE;
    const GstStructure *st = gst_message_get_structure (m);
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT && gst_structure_has_name (st, "spectrum")) {
      fail_unless (GST_MESSAGE_SRC (m) == GST_OBJECT (el));
      g_ptr_array_add (r.msgs, gst_structure_copy (st));
    }
    gst_message_unref (m);
  }
  if (rk)
    g_object_get (el, "stats", &r.stats, NULL);
  for (; pulled < audio_buffers (a); pulled++) {
    GstSample *s = gst_app_sink_try_pull_sample (sink, 0);
    fail_unless (s != NULL, "%s: buffer %u did not come out before EOS", element, pulled);
    check_out_buffer (a, s, pulled, pulled_f);
    pulled_f += g_array_index (a->sizes, guint, pulled);
    gst_sample_unref (s);
  }
  if (a->then) {
    for (guint i = 0, g = 0; i < audio_buffers (a->then); i++) {
      GstSample *s = gst_app_sink_try_pull_sample (sink, 0);
      fail_unless (s != NULL, "%s: buffer %u of the next audio did not come out before EOS", element,
          i);
      check_out_buffer (a->then, s, i, g);
      g += g_array_index (a->then->sizes, guint, i);
      gst_sample_unref (s);
    }
  }
  GstSample *extra = gst_app_sink_try_pull_sample (sink, 0);
  fail_unless (extra == NULL, "%s: more buffers came out than went in", element);

  /* what was left (an element posting as it stops) would come after EOS; READY, not NULL, where the
   * pipeline would flush its bus */
  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  GstMessage *m;
  while ((m = gst_bus_pop (bus)) != NULL) {
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (gst_message_get_structure (m), "spectrum"))
      r.late++;
    gst_message_unref (m);
  }
  fail_unless_equals_int (r.late, 0);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (el);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  return r;
}

/* ---- a model of spectrum's counting: when intervals end, their timestamps and FFTs ---- */

typedef struct {
  GstClockTime ts;
  guint ffts; /* FFTs averaged in the interval */
} Interval;

/* spectrum's loop over the frames of each buffer (no DISCONT after the first buffer). *ffts gets every
 * FFT run, the unfinished interval's included. */
static GArray *
model_intervals (const Audio *a, guint bands, guint64 interval, guint64 *ffts)
{
  GArray *out = g_array_new (FALSE, FALSE, sizeof (Interval));
  const guint rate = GST_AUDIO_INFO_RATE (&a->info);
  const guint64 nfft = 2 * bands - 2;
  guint64 fpi = gst_util_uint64_scale (interval, rate, GST_SECOND);
  const guint64 err_per = (guint64) (((unsigned __int128) interval * rate) % GST_SECOND);
  guint64 todo = fpi, acc = 0, num = 0, f = 0;
  guint nf = 0;
  GstClockTime ts = GST_CLOCK_TIME_NONE;
  *ffts = 0;
  if (fpi == 0)
    fpi = 1;
  for (guint i = 0; i < audio_buffers (a); i++) {
    guint64 left = g_array_index (a->sizes, guint, i);
    if (num == 0)
      ts = audio_pts (a, i, f);
    f += left;
    while (left > 0) {
      guint64 block = MIN (MIN (todo - num, left), nfft - num % nfft);
      left -= block;
      num += block;
      const gboolean full = num == todo;
      if (num % nfft == 0 || (full && nf == 0)) {
        nf++;
        (*ffts)++;
      }
      if (full) {
        Interval iv = { ts, nf };
        g_array_append_val (out, iv);
        todo = fpi;
        if (acc >= GST_SECOND) {
          acc -= GST_SECOND;
          todo++;
        }
        acc += err_per;
        ts += gst_util_uint64_scale (num, GST_SECOND, rate);
        num = 0;
        nf = 0;
      }
    }
  }
  return out;
}

/* ---- the messages ---- */

typedef struct {
  guint bands, channels; /* channels of the messages: the audio's with multi-channel, else 1 */
  gboolean multi, magnitude, phase;
  gint threshold;
  guint64 interval;
} Shape;

/* The floats of field `name` of a message, [channel][band], checking the type and shape. */
static float *
field_values (const GstStructure *s, const gchar *name, const Shape *sh, guint index)
{
  const GValue *v = gst_structure_get_value (s, name);
  fail_unless (v != NULL, "message %u has no %s", index, name);
  float *out = g_new (float, (gsize) sh->channels * sh->bands);
  if (!sh->multi) {
    fail_unless (G_VALUE_TYPE (v) == GST_TYPE_LIST, "message %u: %s is a %s, not a list", index, name,
        G_VALUE_TYPE_NAME (v));
    fail_unless_equals_int (gst_value_list_get_size (v), sh->bands);
    for (guint k = 0; k < sh->bands; k++) {
      const GValue *e = gst_value_list_get_value (v, k);
      fail_unless (G_VALUE_TYPE (e) == G_TYPE_FLOAT);
      out[k] = g_value_get_float (e);
    }
    return out;
  }
  fail_unless (G_VALUE_TYPE (v) == GST_TYPE_ARRAY, "message %u: %s is a %s, not an array", index, name,
      G_VALUE_TYPE_NAME (v));
  fail_unless_equals_int (gst_value_array_get_size (v), sh->channels);
  for (guint c = 0; c < sh->channels; c++) {
    const GValue *inner = gst_value_array_get_value (v, c);
    fail_unless (G_VALUE_TYPE (inner) == GST_TYPE_ARRAY, "message %u: %s[%u] is a %s", index, name, c,
        G_VALUE_TYPE_NAME (inner));
    fail_unless_equals_int (gst_value_array_get_size (inner), sh->bands);
    for (guint k = 0; k < sh->bands; k++) {
      const GValue *e = gst_value_array_get_value (inner, k);
      fail_unless (G_VALUE_TYPE (e) == G_TYPE_FLOAT);
      out[(gsize) c * sh->bands + k] = g_value_get_float (e);
    }
  }
  return out;
}

static guint64
get_u64 (const GstStructure *s, const gchar *name, guint index)
{
  guint64 v = 0;
  fail_unless (gst_structure_get_uint64 (s, name, &v), "message %u: no guint64 %s", index, name);
  return v;
}

/* A message's fields: exactly the five times and those asked for, with the right shapes. */
static void
check_message_fields (const GstStructure *s, const Shape *sh, guint index)
{
  fail_unless_equals_int (gst_structure_n_fields (s), 5 + sh->magnitude + sh->phase);
  static const gchar *times[] = { "endtime", "timestamp", "stream-time", "running-time", "duration" };
  for (guint i = 0; i < G_N_ELEMENTS (times); i++)
    get_u64 (s, times[i], index);
  fail_unless_equals_uint64 (get_u64 (s, "endtime", index),
      get_u64 (s, "stream-time", index) + get_u64 (s, "duration", index));
  fail_unless_equals_uint64 (get_u64 (s, "duration", index), sh->interval);
  fail_unless (gst_structure_has_field (s, "magnitude") == sh->magnitude);
  fail_unless (gst_structure_has_field (s, "phase") == sh->phase);
  if (sh->magnitude)
    g_free (field_values (s, "magnitude", sh, index));
  if (sh->phase)
    g_free (field_values (s, "phase", sh, index));
}

typedef struct {
  double mag_db;    /* worst difference of magnitudes at or above MAG_TOL_LEVEL */
  double low_db;    /* worst difference below it */
  double low_share; /* worst difference below it over its tolerance */
  double phase_rad; /* worst phase difference */
  double phase_share; /* worst phase difference over its tolerance */
  double phase_high;  /* worst phase difference in bands at or above MAG_TOL_LEVEL */
  guint phases;     /* phases compared */
} Worst;

/* The tolerances for a band of m dB (see MAG_TOL_DB). */
static double
level_factor (double m)
{
  return m >= MAG_TOL_LEVEL ? 1.0 : pow (10.0, (MAG_TOL_LEVEL - m) / 20.0);
}

static double
mag_tolerance (double m)
{
  return MAG_TOL_DB * level_factor (m);
}

/* With RKSPECTRUM_TEST_VERBOSE: the worst differences of a case. */
static void
report (const gchar *name, guint messages, const Worst *w)
{
  if (verbose ())
    g_printerr ("%-30s %5u messages: %.2g dB at >= %g dB; %.2g dB below (%.2f of its tolerance); "
        "%.2g rad (%.2f of its tolerance, %u phases; %.2g rad at >= %g dB)\n", name, messages,
        w->mag_db, MAG_TOL_LEVEL, w->low_db, w->low_share, w->phase_rad, w->phase_share, w->phases,
        w->phase_high, MAG_TOL_LEVEL);
}

/* Phases: the phase of an interval is the average of its n FFTs' atan2 values, each in [-pi, pi]; a
 * phase near +-pi may land on either side in either element, which moves the average by 2 pi / n. */
static double
phase_diff (double a, double b, guint n)
{
  const double d = fabs (a - b), step = 2 * G_PI / n;
  const double k = MIN (rint (d / step), n);
  return fabs (d - k * step);
}

/* Compare message i of rkspectrum (r) with spectrum's (s), the interval having had `ffts` FFTs.
 * skip_values: only the times and shapes. Phases are compared where the magnitudes of `mask` (s, or
 * spectrum's message with magnitudes when s has none) are well above the threshold. */
static void
compare_message (const GstStructure *r, const GstStructure *s, const GstStructure *mask,
    const Shape *sh, guint i, guint ffts, gboolean skip_values, Worst *w)
{
  check_message_fields (r, sh, i);
  check_message_fields (s, sh, i);
  static const gchar *times[] = { "endtime", "timestamp", "stream-time", "running-time", "duration" };
  for (guint t = 0; t < G_N_ELEMENTS (times); t++)
    fail_unless_equals_uint64 (get_u64 (r, times[t], i), get_u64 (s, times[t], i));
  if (skip_values)
    return;
  const gsize n = (gsize) sh->channels * sh->bands;
  if (sh->magnitude) {
    float *rm = field_values (r, "magnitude", sh, i), *sm = field_values (s, "magnitude", sh, i);
    for (gsize k = 0; k < n; k++) {
      const double d = fabs ((double) rm[k] - sm[k]), m = MIN (rm[k], sm[k]), tol = mag_tolerance (m);
      fail_unless (d <= tol, "message %u, channel %u, band %u: magnitude %.7f dB, spectrum's %.7f dB "
          "(tolerance %.3g dB)", i, (guint) (k / sh->bands), (guint) (k % sh->bands), rm[k], sm[k],
          tol);
      fail_unless (rm[k] >= sh->threshold, "message %u: %f under the threshold", i, rm[k]);
      if (m >= MAG_TOL_LEVEL)
        w->mag_db = MAX (w->mag_db, d);
      else {
        w->low_db = MAX (w->low_db, d);
        w->low_share = MAX (w->low_share, d / tol);
      }
    }
    g_free (rm);
    g_free (sm);
  }
  if (sh->phase) {
    Shape msh = *sh;
    msh.magnitude = TRUE;
    float *mm = field_values (mask, "magnitude", &msh, i);
    float *rp = field_values (r, "phase", sh, i), *sp = field_values (s, "phase", sh, i);
    for (gsize k = 0; k < n; k++) {
      fail_unless (fabs (rp[k]) <= G_PI + 1e-5, "message %u: phase %f", i, rp[k]);
      if (mm[k] < sh->threshold + PHASE_MIN_ABOVE)
        continue;
      const double d = phase_diff (rp[k], sp[k], ffts), tol = PHASE_TOL_RAD * level_factor (mm[k]);
      fail_unless (d <= tol, "message %u (%u FFTs), channel %u, band %u (%.2f dB): phase %.7f, "
          "spectrum's %.7f", i, ffts, (guint) (k / sh->bands), (guint) (k % sh->bands), mm[k], rp[k],
          sp[k]);
      w->phase_rad = MAX (w->phase_rad, d);
      w->phase_share = MAX (w->phase_share, d / tol);
      if (mm[k] >= MAG_TOL_LEVEL)
        w->phase_high = MAX (w->phase_high, d);
      w->phases++;
    }
    g_free (mm);
    g_free (rp);
    g_free (sp);
  }
}

/* ---- the comparison ---- */

typedef struct {
  const gchar *name;
  GstAudioFormat format;
  guint channels, rate;
  gboolean multi;
  guint bands;
  guint64 interval;
  gint threshold;
  gboolean magnitude, phase, post;
  guint64 frames;
} Case;

static gchar *
case_props (const Case *c)
{
  return g_strdup_printf ("bands=%u interval=%" G_GUINT64_FORMAT " threshold=%d multi-channel=%d "
      "message-magnitude=%d message-phase=%d post-messages=%d", c->bands, c->interval, c->threshold,
      c->multi, c->magnitude, c->phase, c->post);
}

static Shape
case_shape (const Case *c)
{
  Shape sh = { c->bands, c->multi ? c->channels : 1, c->multi, c->magnitude, c->phase, c->threshold,
    c->interval };
  return sh;
}

static guint64
stat_u64 (const GstStructure *st, const gchar *name)
{
  guint64 v = G_MAXUINT64;
  fail_unless (gst_structure_get_uint64 (st, name, &v), "stats without %s", name);
  return v;
}

/* The stats after EOS: what was pushed, what was posted, nothing in flight. */
static void
check_stats (const Run *r, const Audio *a, guint64 ffts)
{
  const GstStructure *st = r->stats;
  fail_unless (st != NULL && gst_structure_has_name (st, "rkspectrum-stats"));
  fail_unless_equals_uint64 (stat_u64 (st, "buffers"), audio_buffers (a));
  fail_unless_equals_uint64 (stat_u64 (st, "frames"), a->frames);
  fail_unless_equals_uint64 (stat_u64 (st, "messages"), r->msgs->len);
  if (ffts != G_MAXUINT64)
    fail_unless_equals_uint64 (stat_u64 (st, "ffts"), ffts);
  guint in_flight = 99;
  fail_unless (gst_structure_get_uint (st, "in-flight", &in_flight));
  fail_unless_equals_int (in_flight, 0);
  if (g_strcmp0 (backend (), "auto") != 0)
    fail_unless_equals_string (gst_structure_get_string (st, "backend"), backend ());
}

static void
compare_case (const Case *c)
{
  Audio *a = audio_new (c->format, c->channels, c->rate, c->frames, c->interval, c->bands,
      c->bands * 131 + c->channels);
  gchar *props = case_props (c);
  const Shape sh = case_shape (c);
  Run rs = run_element ("spectrum", props, a, 0, NULL, NULL);
  Run rr = run_element ("rkspectrum", props, a, 0, NULL, NULL);
  /* without magnitudes, spectrum's magnitudes of another run say where the phases mean something */
  Run rm = { NULL };
  if (c->phase && !c->magnitude && c->post) {
    Case cm = *c;
    cm.magnitude = TRUE;
    gchar *pm = case_props (&cm);
    rm = run_element ("spectrum", pm, a, 0, NULL, NULL);
    g_free (pm);
    fail_unless_equals_int (rm.msgs->len, rs.msgs->len);
  }

  guint64 ffts = 0;
  GArray *model = model_intervals (a, c->bands, c->interval, &ffts);
  fail_unless_equals_int (rs.msgs->len, c->post ? model->len : 0);
  fail_unless_equals_int (rr.msgs->len, rs.msgs->len);
  check_stats (&rr, a, ffts * sh.channels);

  Worst w = { 0 };
  for (guint i = 0; i < rr.msgs->len; i++) {
    const GstStructure *r = g_ptr_array_index (rr.msgs, i), *s = g_ptr_array_index (rs.msgs, i);
    const Interval *iv = &g_array_index (model, Interval, i);
    compare_message (r, s, rm.msgs ? g_ptr_array_index (rm.msgs, i) : s, &sh, i, iv->ffts, FALSE, &w);
    /* the times follow the model: stream-time is the timestamp, running-time is shifted by the pad
     * offset */
    fail_unless_equals_uint64 (get_u64 (r, "timestamp", i), iv->ts);
    fail_unless_equals_uint64 (get_u64 (r, "stream-time", i), iv->ts);
    fail_unless_equals_uint64 (get_u64 (r, "running-time", i), iv->ts + a->offset);
  }
  report (c->name, rr.msgs->len, &w);
  if (c->phase && c->post && c->threshold <= -40)
    fail_unless (w.phases > 0, "%s: no phase was compared", c->name);
  g_array_unref (model);
  if (rm.msgs)
    run_clear (&rm);
  run_clear (&rs);
  run_clear (&rr);
  g_free (props);
  audio_free (a);
}

#define S16 GST_AUDIO_FORMAT_S16LE
#define S24 GST_AUDIO_FORMAT_S24LE
#define S32 GST_AUDIO_FORMAT_S32LE
#define F32 GST_AUDIO_FORMAT_F32LE
#define F64 GST_AUDIO_FORMAT_F64LE
#define MS GST_MSECOND
/* name, format, channels, rate, multi, bands, interval, threshold, magnitude, phase, post, frames */
#define CASE(n, f, ch, multi, bands, interval, thr, ph, frames) \
  { n, f, ch, 44100, multi, bands, interval, thr, TRUE, ph, TRUE, frames }

static void
compare_cases (const Case *cases, guint n)
{
  for (guint i = 0; i < n; i++)
    compare_case (&cases[i]);
}

/* Every format, mono, stereo and 6 channels, averaged or each channel (not S24 averaged: above). */
GST_START_TEST (test_formats)
{
  static const Case cases[] = {
    CASE ("S16 mono", S16, 1, FALSE, 128, 100 * MS, -60, TRUE, 66150),
    CASE ("S16 stereo mix", S16, 2, FALSE, 128, 100 * MS, -60, TRUE, 66150),
    CASE ("S16 6ch multi", S16, 6, TRUE, 128, 10 * MS, -80, TRUE, 30000),
    CASE ("S24 mono multi", S24, 1, TRUE, 128, 100 * MS, -60, TRUE, 66150),
    CASE ("S24 stereo multi", S24, 2, TRUE, 33, 10 * MS, -90, TRUE, 44100),
    CASE ("S24 6ch multi", S24, 6, TRUE, 128, 100 * MS, -60, FALSE, 44100),
    CASE ("S32 mono", S32, 1, FALSE, 1024, 100 * MS, -100, TRUE, 88200),
    CASE ("S32 stereo mix", S32, 2, FALSE, 33, 10 * MS, -60, FALSE, 44100),
    CASE ("S32 6ch mix", S32, 6, FALSE, 128, 100 * MS, -60, TRUE, 44100),
    CASE ("F32 stereo multi", F32, 2, TRUE, 128, 100 * MS, -60, TRUE, 66150),
    CASE ("F32 6ch mix", F32, 6, FALSE, 1000, 100 * MS, -90, TRUE, 88200),
    CASE ("F64 mono", F64, 1, FALSE, 128, 100 * MS, -60, TRUE, 66150),
    CASE ("F64 stereo mix", F64, 2, FALSE, 2, 10 * MS, -60, TRUE, 22050),
    CASE ("F64 6ch multi", F64, 6, TRUE, 1000, 100 * MS, -80, TRUE, 88200),
  };
  compare_cases (cases, G_N_ELEMENTS (cases));
}
GST_END_TEST;

/* Bands (2, 33, 128, 1000, 1024: FFTs of 2, 64, 254, 1998 = 2 * 27 * 37, 2046 = 2 * 3 * 11 * 31
 * frames) and intervals: not a whole number of frames, shorter than an FFT, shorter than a frame. */
GST_START_TEST (test_bands_intervals)
{
  static const Case cases[] = {
    CASE ("bands 2", F32, 1, FALSE, 2, 100 * MS, -60, TRUE, 44100),
    CASE ("bands 33", S16, 1, FALSE, 33, 100 * MS, -60, TRUE, 44100),
    CASE ("bands 1000", F32, 2, TRUE, 1000, 100 * MS, -60, TRUE, 88200),
    CASE ("bands 1024", S16, 2, FALSE, 1024, 100 * MS, -60, TRUE, 88200),
    CASE ("33333333 ns", F32, 1, FALSE, 128, 33333333, -60, TRUE, 88200),
    CASE ("33333333 ns bands 1024", S32, 2, TRUE, 1024, 33333333, -70, TRUE, 88200),
    CASE ("1 ms < one FFT", S24, 1, TRUE, 128, 1 * MS, -60, TRUE, 22050),
    CASE ("1 ms bands 1000 multi", F64, 2, TRUE, 1000, 1 * MS, -60, TRUE, 4410),
    CASE ("10 us < one frame", F32, 1, FALSE, 8, 10000, -60, TRUE, 2000),
    { "48000 Hz 33333333 ns", F32, 2, 48000, FALSE, 128, 33333333, -60, TRUE, TRUE, TRUE, 96000 },
  };
  compare_cases (cases, G_N_ELEMENTS (cases));
}
GST_END_TEST;

/* The threshold (magnitudes clamped at it) and which fields the messages carry. */
GST_START_TEST (test_thresholds_fields)
{
  static const Case cases[] = {
    CASE ("threshold 0", F32, 1, FALSE, 128, 100 * MS, 0, TRUE, 44100),
    CASE ("threshold -20", S16, 2, TRUE, 128, 100 * MS, -20, TRUE, 44100),
    CASE ("threshold -120", F64, 1, FALSE, 128, 100 * MS, -120, TRUE, 44100),
    CASE ("threshold -120 S16", S16, 1, FALSE, 1024, 100 * MS, -120, FALSE, 44100),
    { "magnitude off", F32, 2, 44100, FALSE, 128, 100 * MS, -60, FALSE, TRUE, TRUE, 44100 },
    { "magnitude off multi", S16, 2, 44100, TRUE, 33, 10 * MS, -60, FALSE, TRUE, TRUE, 22050 },
    { "phase only off", F32, 1, 44100, FALSE, 128, 100 * MS, -60, TRUE, FALSE, TRUE, 44100 },
    { "post-messages off", F32, 2, 44100, FALSE, 128, 10 * MS, -60, TRUE, TRUE, FALSE, 44100 },
  };
  compare_cases (cases, G_N_ELEMENTS (cases));
}
GST_END_TEST;

/* spectrum posts messages with the times only when neither magnitude nor phase is asked for. */
GST_START_TEST (test_times_only)
{
  static const Case cases[] = {
    { "times only", F32, 1, 44100, FALSE, 128, 100 * MS, -60, FALSE, FALSE, TRUE, 44100 },
  };
  compare_cases (cases, G_N_ELEMENTS (cases));
}
GST_END_TEST;

/* ---- every message before EOS ---- */

/* The answer thread posts the last interval's message slowly (a bus sync handler that takes its time,
 * as a preempted thread would), while the buffer that ended the interval is held downstream until the
 * answer has come: EOS must still wait for the message. */
static GstBusSyncReply
slow_last_message (GstBus *bus, GstMessage *m, gpointer data)
{
  const GstClockTime *last = data;
  guint64 ts = 0;
  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT
      && gst_structure_has_name (gst_message_get_structure (m), "spectrum")
      && gst_structure_get_uint64 (gst_message_get_structure (m), "timestamp", &ts) && ts == *last)
    g_usleep (50000);
  return GST_BUS_PASS;
}

static GstPadProbeReturn
slow_short_buffers (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  if (gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info)) < 64)
    g_usleep (5000);
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_messages_before_eos)
{
  for (guint e = 0; e < 2; e++) {
    for (guint round = 0; round < 3; round++) {
      gchar *desc = g_strdup_printf ("appsrc name=src format=time ! %s name=el %s%s bands=128 "
          "interval=10000000 multi-channel=true message-phase=true ! fakesink name=sink",
          e ? "spectrum" : "rkspectrum", e ? "" : "backend=", e ? "" : backend ());
      GstElement *pipe = gst_parse_launch (desc, NULL);
      g_free (desc);
      fail_unless (pipe != NULL);
      GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
      GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
      GstAudioInfo info;
      gst_audio_info_set_format (&info, GST_AUDIO_FORMAT_F32LE, 44100, 2, NULL);
      GstCaps *caps = gst_audio_info_to_caps (&info);
      g_object_set (src, "caps", caps, NULL);
      gst_caps_unref (caps);
      GstPad *pad = gst_element_get_static_pad (sink, "sink");
      gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, slow_short_buffers, NULL, NULL);
      gst_object_unref (pad);
      static const GstClockTime last = 20 * GST_MSECOND; /* three intervals of 441 frames */
      GstBus *bus = gst_element_get_bus (pipe);
      gst_bus_set_sync_handler (bus, slow_last_message, (gpointer) &last, NULL);
      fail_if (gst_element_set_state (pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
      guint64 f = 0;
      for (guint i = 0; i < 6; i++) {
        const guint n = i % 2 ? 1 : 440; /* each interval ends with a buffer of one frame */
        GstBuffer *b = gst_buffer_new_allocate (NULL, n * 8, NULL);
        GstMapInfo map;
        gst_buffer_map (b, &map, GST_MAP_WRITE);
        for (guint k = 0; k < n * 2; k++)
          ((float *) map.data)[k] = (float) sin ((f * 2 + k) * 0.05);
        gst_buffer_unmap (b, &map);
        GST_BUFFER_PTS (b) = gst_util_uint64_scale (f, GST_SECOND, 44100);
        fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (src), b), GST_FLOW_OK);
        f += n;
      }
      gst_app_src_end_of_stream (GST_APP_SRC (src));
      guint before = 0, after = 0;
      gboolean eos = FALSE;
      GstMessage *m;
      while ((m = gst_bus_timed_pop_filtered (bus, eos ? 200 * GST_MSECOND : 30 * GST_SECOND,
                  GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT)) != NULL) {
        fail_if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR);
        if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS)
          eos = TRUE;
        else if (gst_structure_has_name (gst_message_get_structure (m), "spectrum"))
          *(eos ? &after : &before) += 1;
        gst_message_unref (m);
      }
      fail_unless (eos);
      fail_unless_equals_int (after, 0);
      fail_unless_equals_int (before, 3);
      gst_element_set_state (pipe, GST_STATE_NULL);
      gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
      gst_object_unref (bus);
      gst_object_unref (src);
      gst_object_unref (sink);
      gst_object_unref (pipe);
    }
  }
}
GST_END_TEST;

/* post-messages set to true while PLAYING, in the middle of an interval: spectrum's FFTs ran all along,
 * so that interval's message averages all its FFTs. */
GST_START_TEST (test_post_messages_on_while_playing)
{
  const Case c = { "post-messages on playing", F32, 1, 44100, FALSE, 128, 100 * MS, -60, TRUE, FALSE,
    FALSE, 44100 };
  Audio *a = audio_new (c.format, c.channels, c.rate, c.frames, c.interval, c.bands, 31);
  guint change_at = 0;
  for (guint64 f = 0; f < a->frames / 2 || f % 4410 < 254; change_at++)
    f += g_array_index (a->sizes, guint, change_at);
  gchar *props = case_props (&c);
  Run rs = run_element ("spectrum", props, a, change_at, "post-messages", "true");
  Run rr = run_element ("rkspectrum", props, a, change_at, "post-messages", "true");
  fail_unless_equals_int (rr.msgs->len, rs.msgs->len);
  fail_unless (rr.msgs->len >= 2);
  Shape sh = case_shape (&c);
  Worst w = { 0 };
  for (guint i = 0; i < rr.msgs->len; i++) {
    const GstStructure *s = g_ptr_array_index (rs.msgs, i);
    compare_message (g_ptr_array_index (rr.msgs, i), s, s, &sh, i, 1, FALSE, &w);
  }
  run_clear (&rs);
  run_clear (&rr);
  g_free (props);
  audio_free (a);
}
GST_END_TEST;

/* ---- refusals ---- */

GST_START_TEST (test_refused_caps)
{
  static const gchar *refused[] = {
    "audio/x-raw,format=S8,rate=44100,channels=1,layout=interleaved",
    "audio/x-raw,format=U16LE,rate=44100,channels=1,layout=interleaved",
    "audio/x-raw,format=S16BE,rate=44100,channels=2,layout=interleaved",
    "audio/x-raw,format=F32LE,rate=44100,channels=2,layout=non-interleaved",
    "audio/x-raw,format=S24_32LE,rate=44100,channels=1,layout=interleaved",
  };
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++) {
    gchar *desc = g_strdup_printf ("appsrc name=src format=time caps=\"%s\" ! rkspectrum backend=%s ! "
        "fakesink", refused[i], backend ());
    GstElement *pipe = gst_parse_launch (desc, NULL);
    g_free (desc);
    fail_unless (pipe != NULL);
    GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
    fail_if (gst_element_set_state (pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
    GstBuffer *b = gst_buffer_new_allocate (NULL, 4096, NULL);
    gst_buffer_memset (b, 0, 0, 4096);
    GST_BUFFER_PTS (b) = 0;
    gst_app_src_push_buffer (GST_APP_SRC (src), b);
    gst_app_src_end_of_stream (GST_APP_SRC (src));
    GstBus *bus = gst_element_get_bus (pipe);
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR, "%s was taken",
        refused[i]);
    GError *err = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error (msg, &err, &dbg);
    fail_unless (dbg && strstr (dbg, "not-negotiated") != NULL, "%s: %s (%s)", refused[i], err->message,
        dbg);
    g_error_free (err);
    g_free (dbg);
    gst_message_unref (msg);
    gst_element_set_state (pipe, GST_STATE_NULL);
    gst_object_unref (bus);
    gst_object_unref (src);
    gst_object_unref (pipe);
  }
}
GST_END_TEST;

/* ---- bands changed ---- */

/* FFTs in an interval of fpi frames (intervals of a whole number of frames, no DISCONT inside). */
static guint
ffts_per_interval (guint64 fpi, guint bands)
{
  return (guint) MAX (fpi / (2 * bands - 2), 1);
}

/* Three runs of one element: bands changed in READY, then in NULL, between them. Each run's messages
 * have that run's bands and equal spectrum's; the stats start again with each run. */
GST_START_TEST (test_bands_between_runs)
{
  const Case cases[] = {
    CASE ("bands 64", F32, 2, FALSE, 64, 10 * MS, -60, TRUE, 22050),
    CASE ("bands 300 (in READY)", F32, 2, FALSE, 300, 10 * MS, -60, TRUE, 22050),
    CASE ("bands 17 (in NULL)", F32, 2, FALSE, 17, 10 * MS, -60, TRUE, 22050),
  };
  Audio *a = audio_new (F32, 2, 44100, 22050, 10 * MS, 64, 7);
  gchar *props = case_props (&cases[0]);
  gchar *desc = g_strdup_printf ("appsrc name=src format=time ! rkspectrum name=el backend=%s %s ! "
      "fakesink", backend (), props);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  g_free (desc);
  g_free (props);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstElement *el = gst_bin_get_by_name (GST_BIN (pipe), "el");
  GstCaps *caps = gst_audio_info_to_caps (&a->info);
  g_object_set (src, "caps", caps, NULL);
  gst_caps_unref (caps);
  GstPad *pad = gst_element_get_static_pad (src, "src");
  gst_pad_set_offset (pad, a->offset);
  gst_object_unref (pad);
  GstBus *bus = gst_element_get_bus (pipe);

  for (guint run = 0; run < G_N_ELEMENTS (cases); run++) {
    const Case *c = &cases[run];
    if (run) {
      fail_unless_equals_int (gst_element_set_state (pipe, run == 1 ? GST_STATE_READY : GST_STATE_NULL),
          GST_STATE_CHANGE_SUCCESS);
      gst_bus_set_flushing (bus, TRUE); /* what the last run left */
      gst_bus_set_flushing (bus, FALSE);
      g_object_set (el, "bands", c->bands, NULL);
    }
    fail_if (gst_element_set_state (pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
    guint64 f = 0;
    for (guint i = 0; i < audio_buffers (a); i++) {
      const guint n = g_array_index (a->sizes, guint, i), bpf = GST_AUDIO_INFO_BPF (&a->info);
      GstBuffer *b = n ? gst_buffer_new_memdup (a->data + (gsize) f * bpf, (gsize) n * bpf)
                       : gst_buffer_new ();
      GST_BUFFER_PTS (b) = audio_pts (a, i, f);
      fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (src), b), GST_FLOW_OK);
      f += n;
    }
    fail_unless_equals_int (gst_app_src_end_of_stream (GST_APP_SRC (src)), GST_FLOW_OK);
    GPtrArray *msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
    for (;;) {
      GstMessage *m = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
          GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
      fail_unless (m != NULL && GST_MESSAGE_TYPE (m) != GST_MESSAGE_ERROR, "run %u: no EOS", run);
      const gboolean eos = GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS;
      if (!eos && gst_structure_has_name (gst_message_get_structure (m), "spectrum"))
        g_ptr_array_add (msgs, gst_structure_copy (gst_message_get_structure (m)));
      gst_message_unref (m);
      if (eos)
        break;
    }
    GstStructure *st = NULL;
    g_object_get (el, "stats", &st, NULL);
    fail_unless_equals_uint64 (stat_u64 (st, "buffers"), audio_buffers (a));
    fail_unless_equals_uint64 (stat_u64 (st, "frames"), a->frames);
    fail_unless_equals_uint64 (stat_u64 (st, "messages"), msgs->len);
    gst_structure_free (st);
    /* spectrum, same audio, same bands */
    gchar *p = case_props (c);
    Run rs = run_element ("spectrum", p, a, 0, NULL, NULL);
    g_free (p);
    fail_unless_equals_int (msgs->len, rs.msgs->len);
    fail_unless (msgs->len >= 40, "run %u: %u messages", run, msgs->len);
    const Shape sh = case_shape (c);
    Worst w = { 0 };
    for (guint i = 0; i < msgs->len; i++) {
      const GstStructure *s = g_ptr_array_index (rs.msgs, i);
      compare_message (g_ptr_array_index (msgs, i), s, s, &sh, i, ffts_per_interval (441, c->bands),
          FALSE, &w);
    }
    report (c->name, msgs->len, &w);
    run_clear (&rs);
    g_ptr_array_unref (msgs);
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (el);
  gst_object_unref (pipe);
  audio_free (a);
}
GST_END_TEST;

/* A property set while PLAYING, between two buffers. bands, interval and multi-channel make both
 * elements start again at the next buffer (the unfinished interval is dropped): rkspectrum's messages
 * before it equal spectrum's, and those after it equal spectrum's on a stream that starts at that
 * buffer with the new setting; for bands and interval, they also equal those of spectrum changed while
 * PLAYING. (Not for multi-channel: spectrum keeps reading the audio as it chose when the caps came,
 * so that after a live change to multi-channel=true its channels are averages of neighbouring
 * samples.) The threshold applies from the next FFT, with no new start: rkspectrum's messages equal spectrum's
 * changed while PLAYING. */
GST_START_TEST (test_changes_while_playing)
{
  static const struct {
    Case c;
    const gchar *prop, *value;
    gboolean live_ref; /* compare with spectrum changed while PLAYING after the change too */
  } changes[] = {
    { CASE ("bands 128 -> 57 playing", S16, 2, TRUE, 128, 10 * MS, -60, TRUE, 44100), "bands", "57",
      TRUE },
    { CASE ("interval -> 33333333 playing", F32, 1, FALSE, 128, 10 * MS, -60, FALSE, 88200),
      "interval", "33333333", TRUE },
    { CASE ("multi-channel on playing", F32, 2, FALSE, 33, 10 * MS, -60, TRUE, 44100),
      "multi-channel", "true", FALSE },
    { CASE ("threshold -> -30 playing", F64, 1, FALSE, 128, 10 * MS, -60, TRUE, 44100),
      "threshold", "-30", TRUE },
  };
  for (guint ci = 0; ci < G_N_ELEMENTS (changes); ci++) {
    const Case *c = &changes[ci].c;
    const gboolean restarts = strcmp (changes[ci].prop, "threshold") != 0;
    Audio *a = audio_new (c->format, c->channels, c->rate, c->frames, c->interval, c->bands, 11 + ci);
    /* buffers of 1 to 5000 frames, none spanning the middle by much */
    g_array_set_size (a->sizes, 0);
    for (guint64 f = 0, i = 0; f < a->frames; i++) {
      static const guint pattern[] = { 1, 300, 1000, 4410, 77, 2500, 5000, 253 };
      guint n = (guint) MIN (pattern[i % G_N_ELEMENTS (pattern)], a->frames - f);
      g_array_append_val (a->sizes, n);
      f += n;
    }
    g_array_set_size (a->discont, a->sizes->len);
    /* the first buffer after half the frames */
    guint change_at = 0;
    guint64 at = 0;
    for (; at < a->frames / 2; change_at++)
      at += g_array_index (a->sizes, guint, change_at);
    const GstClockTime at_ts = audio_pts (a, change_at, at);
    gchar *props = case_props (c);
    Run rs = run_element ("spectrum", props, a, change_at, changes[ci].prop, changes[ci].value);
    Run rr = run_element ("rkspectrum", props, a, change_at, changes[ci].prop, changes[ci].value);
    /* spectrum with the new setting from the start, on the stream from the change on */
    Case cn = *c;
    if (!strcmp (changes[ci].prop, "bands"))
      cn.bands = atoi (changes[ci].value);
    else if (!strcmp (changes[ci].prop, "interval"))
      cn.interval = g_ascii_strtoull (changes[ci].value, NULL, 10);
    else if (!strcmp (changes[ci].prop, "multi-channel"))
      cn.multi = TRUE;
    gchar *props_new = case_props (&cn);
    Audio *tail = audio_tail (a, change_at, at, at_ts);
    Run rt = run_element ("spectrum", props_new, tail, 0, NULL, NULL);
    g_free (props_new);

    fail_unless_equals_int (rr.msgs->len, rs.msgs->len);
    guint old = 0, fresh = 0;
    Worst w = { 0 };
    for (guint i = 0; i < rr.msgs->len; i++) {
      const GstStructure *r = g_ptr_array_index (rr.msgs, i), *s = g_ptr_array_index (rs.msgs, i);
      const gboolean after = get_u64 (r, "timestamp", i) >= at_ts;
      const Case *now = after ? &cn : c;
      Shape sh = case_shape (now);
      sh.threshold = MIN (c->threshold, cn.threshold); /* an interval may have FFTs of both */
      /* intervals of 10 ms (441 frames) have 441 / nfft FFTs; phases only where that holds */
      const guint ffts = ffts_per_interval (441, now->bands);
      if (!after || changes[ci].live_ref)
        compare_message (r, s, s, &sh, i, ffts, FALSE, &w);
      if (after && restarts) {
        fail_unless (i - old < rt.msgs->len, "more messages after the change than spectrum's");
        const GstStructure *t = g_ptr_array_index (rt.msgs, i - old);
        compare_message (r, t, t, &sh, i, ffts, FALSE, &w);
      }
      if (after && !restarts && get_u64 (r, "timestamp", i) >= at_ts + c->interval) {
        /* a whole interval after the change: clamped at the new threshold */
        float *m = field_values (r, "magnitude", &sh, i);
        for (guint k = 0; k < sh.bands * sh.channels; k++)
          fail_unless (m[k] >= cn.threshold, "message %u: %f dB under the new threshold", i, m[k]);
        g_free (m);
      }
      old += !after;
      fresh += after;
    }
    if (restarts)
      fail_unless_equals_int (fresh, rt.msgs->len);
    fail_unless (old >= 10 && fresh >= 10, "%s: %u messages before the change, %u after", c->name, old,
        fresh);
    report (c->name, rr.msgs->len, &w);
    fail_unless_equals_uint64 (stat_u64 (rr.stats, "messages"), rr.msgs->len);
    fail_unless_equals_uint64 (stat_u64 (rr.stats, "frames"), a->frames);
    fail_unless_equals_uint64 (stat_u64 (rr.stats, "buffers"), audio_buffers (a));
    run_clear (&rs);
    run_clear (&rr);
    run_clear (&rt);
    audio_free (tail);
    g_free (props);
    audio_free (a);
  }
}
GST_END_TEST;

/* New caps in the middle of the stream (F32 stereo at 44100 Hz, then S16 mono at 48000 Hz, then S32
 * 6 channels at 44100 Hz): both elements start again with the new caps; rkspectrum's messages equal
 * spectrum's throughout. */
GST_START_TEST (test_caps_change)
{
  const Case c = CASE ("caps change", F32, 2, FALSE, 128, 10 * MS, -60, TRUE, 0);
  Audio *a = audio_new (F32, 2, 44100, 20000, c.interval, c.bands, 21);
  Audio *b = audio_new (S16, 1, 48000, 20000, c.interval, c.bands, 22);
  Audio *d = audio_new (S32, 6, 44100, 20000, c.interval, c.bands, 23);
  b->start = audio_pts (a, 0, a->frames);
  d->start = b->start + gst_util_uint64_scale (b->frames, GST_SECOND, 48000);
  gchar *props = case_props (&c);
  for (guint run = 0; run < 2; run++) {
    /* a, then b; b, then d */
    Audio *head = run ? b : a;
    a->then = run ? NULL : b;
    b->then = run ? d : NULL;
    Run rs = run_element ("spectrum", props, head, 0, NULL, NULL);
    Run rr = run_element ("rkspectrum", props, head, 0, NULL, NULL);
    fail_unless_equals_int (rr.msgs->len, rs.msgs->len);
    const GstClockTime switch_ts = head->then->start;
    guint before = 0, after = 0;
    Worst w = { 0 };
    for (guint i = 0; i < rr.msgs->len; i++) {
      const GstStructure *r = g_ptr_array_index (rr.msgs, i), *s = g_ptr_array_index (rs.msgs, i);
      const gboolean later = get_u64 (r, "timestamp", i) >= switch_ts;
      const Audio *now = later ? head->then : head;
      const guint fpi = gst_util_uint64_scale (c.interval, GST_AUDIO_INFO_RATE (&now->info),
          GST_SECOND);
      const Shape sh = case_shape (&c);
      compare_message (r, s, s, &sh, i, ffts_per_interval (fpi, c.bands), FALSE, &w);
      before += !later;
      after += later;
    }
    fail_unless (before >= 10 && after >= 10, "%u messages before the new caps, %u after", before,
        after);
    fail_unless_equals_uint64 (stat_u64 (rr.stats, "messages"), rr.msgs->len);
    fail_unless_equals_uint64 (stat_u64 (rr.stats, "buffers"),
        audio_buffers (head) + audio_buffers (head->then));
    fail_unless_equals_uint64 (stat_u64 (rr.stats, "frames"), head->frames + head->then->frames);
    report (run ? "caps S16 mono -> S32 6ch" : "caps F32 2ch -> S16 mono", rr.msgs->len, &w);
    run_clear (&rs);
    run_clear (&rr);
  }
  g_free (props);
  audio_free (a);
  audio_free (b);
  audio_free (d);
}
GST_END_TEST;

/* ---- a discontinuity ---- */

/* A DISCONT buffer (its timestamp jumps by 0.5 s) an FFT or more into an interval: the messages go on,
 * with the right shapes and the same times as spectrum's, the intervals counted again from the
 * discontinuity. Before it, the values equal spectrum's; from it on, they equal those of spectrum on a
 * stream that starts at the discontinuity (rkspectrum starts the interval clean); in the interval that
 * starts there they differ from spectrum's on the whole stream, which keeps the interrupted interval's
 * sums (a documented difference). */
GST_START_TEST (test_discont)
{
  const Case cases[] = {
    CASE ("discont mono", F32, 1, FALSE, 128, 100 * MS, -60, TRUE, 88200),
    CASE ("discont 6ch multi", S16, 6, TRUE, 33, 10 * MS, -60, TRUE, 44100),
  };
  for (guint ci = 0; ci < G_N_ELEMENTS (cases); ci++) {
    const Case *c = &cases[ci];
    Audio *a = audio_new (c->format, c->channels, c->rate, c->frames, c->interval, c->bands, 5 + ci);
    /* a buffer after the first third, an FFT or more into an interval (intervals of whole frames here:
     * they start at multiples of fpi) */
    const guint64 fpi = gst_util_uint64_scale (c->interval, c->rate, GST_SECOND);
    guint d = 0;
    guint64 f = 0, at = 0;
    for (guint i = 0; i < audio_buffers (a); i++) {
      if (f > a->frames / 3 && f % fpi >= 2 * c->bands - 2) {
        d = i;
        at = f;
        break;
      }
      f += g_array_index (a->sizes, guint, i);
    }
    fail_unless (d > 0);
    g_array_index (a->discont, gboolean, d) = TRUE;
    a->jump = 500 * GST_MSECOND;
    const GstClockTime at_ts = audio_pts (a, d, at);
    gchar *props = case_props (c);
    const Shape sh = case_shape (c);
    Run rs = run_element ("spectrum", props, a, 0, NULL, NULL);
    Run rr = run_element ("rkspectrum", props, a, 0, NULL, NULL);
    Audio *tail = audio_tail (a, d, at, at_ts);
    Run rt = run_element ("spectrum", props, tail, 0, NULL, NULL);
    fail_unless_equals_int (rr.msgs->len, rs.msgs->len);
    check_stats (&rr, a, G_MAXUINT64);
    guint before = 0, after = 0, skipped = 0;
    Worst w = { 0 };
    for (guint i = 0; i < rr.msgs->len; i++) {
      const GstStructure *r = g_ptr_array_index (rr.msgs, i), *s = g_ptr_array_index (rs.msgs, i);
      const GstClockTime ts = get_u64 (r, "timestamp", i);
      /* intervals of whole frames: the timestamps are the start's or the discontinuity's plus whole
       * intervals */
      if (ts < at_ts) {
        fail_unless_equals_uint64 ((ts - a->start) % c->interval, 0);
        before++;
      } else {
        fail_unless_equals_uint64 ((ts - at_ts) % c->interval, 0);
        after += ts > at_ts;
      }
      /* spectrum's and rkspectrum's values differ in the interval that starts at the discontinuity:
       * spectrum adds the FFTs of the interrupted interval to it, rkspectrum starts clean */
      const gboolean first_after = ts == at_ts;
      skipped += first_after;
      compare_message (r, s, s, &sh, i, ffts_per_interval (fpi, c->bands), first_after, &w);
      if (first_after) {
        float *rm = field_values (r, "magnitude", &sh, i), *sm = field_values (s, "magnitude", &sh, i);
        double most = 0;
        for (gsize k = 0; k < (gsize) sh.channels * sh.bands; k++)
          most = MAX (most, fabs ((double) rm[k] - sm[k]));
        fail_unless (most > 1.0, "the interval after the DISCONT equals spectrum's, sums kept");
        g_free (rm);
        g_free (sm);
      }
      /* from the discontinuity on, the messages equal spectrum's on a stream that starts there: an
       * interval of an FFT or more has FFTs of frames after the discontinuity only */
      if (ts >= at_ts) {
        fail_unless (fpi >= 2 * c->bands - 2 && i - before < rt.msgs->len);
        const GstStructure *t = g_ptr_array_index (rt.msgs, i - before);
        compare_message (r, t, t, &sh, i, ffts_per_interval (fpi, c->bands), FALSE, &w);
      }
    }
    fail_unless_equals_int (rt.msgs->len, after + 1);
    fail_unless_equals_int (skipped, 1);
    fail_unless (before >= 3 && after >= 3, "%u messages before, %u after", before, after);
    report (c->name, rr.msgs->len, &w);
    run_clear (&rs);
    run_clear (&rr);
    run_clear (&rt);
    audio_free (tail);
    g_free (props);
    audio_free (a);
  }
}
GST_END_TEST;

static Suite *
rkspectrum_suite (void)
{
  Suite *s = suite_create ("rkspectrum");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_formats);
  tcase_add_test (tc, test_bands_intervals);
  tcase_add_test (tc, test_thresholds_fields);
  tcase_add_test (tc, test_times_only);
  tcase_add_test (tc, test_post_messages_on_while_playing);
  tcase_add_test (tc, test_messages_before_eos);
  tcase_add_test (tc, test_refused_caps);
  tcase_add_test (tc, test_bands_between_runs);
  tcase_add_test (tc, test_changes_while_playing);
  tcase_add_test (tc, test_caps_change);
  tcase_add_test (tc, test_discont);
  return s;
}

GST_CHECK_MAIN (rkspectrum);
