/* rkwavesrc: frames equal the C reference's (impulses from the action signal and from navigation
 * events, live parameter changes, both formats), caps refused when they do not fit the grid, clear
 * errors for a grid too large, the latency answer, timestamps. The backend comes from RKWAVE_BACKEND
 * (default cpu), so that the same tests run on a GPU. */
#include <gst/app/app.h>
#include <gst/check/gstcheck.h>
#include <gst/video/video.h>

#include "rk_handlers.h"
#include "rk_wave.h"

static const gchar *
backend (void)
{
  const gchar *b = g_getenv ("RKWAVE_BACKEND");
  return b && *b ? b : "cpu";
}

typedef struct {
  GstElement *pipe, *src;
  GstAppSink *sink;
} Wave;

static Wave
wave_new (const gchar *props, const gchar *caps)
{
  Wave w;
  gchar *desc = g_strdup_printf ("rkwavesrc name=src is-live=false backend=%s %s ! %s ! "
      "appsink name=sink sync=false", backend (), props, caps);
  w.pipe = gst_parse_launch (desc, NULL);
  g_free (desc);
  fail_unless (w.pipe != NULL);
  w.src = gst_bin_get_by_name (GST_BIN (w.pipe), "src");
  w.sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (w.pipe), "sink"));
  return w;
}

static void
wave_free (Wave *w)
{
  gst_element_set_state (w->pipe, GST_STATE_NULL);
  gst_object_unref (w->src);
  gst_object_unref (w->sink);
  gst_object_unref (w->pipe);
}

/* The model: the same commands through the C reference. */
typedef struct {
  double p[RK_MAX_PARAMS];
  guint w, h, d, cur;
  float *f[2];
} Model;

static Model
model_new (guint w, guint h, guint d, double speed, double damping, int boundary, double gain)
{
  Model m = { .w = w, .h = h, .d = d };
  m.p[RK_WAVE_P_WIDTH] = w;
  m.p[RK_WAVE_P_HEIGHT] = h;
  m.p[RK_WAVE_P_DEPTH] = d;
  m.p[RK_WAVE_P_SPEED] = speed;
  m.p[RK_WAVE_P_DAMPING] = damping;
  m.p[RK_WAVE_P_BOUNDARY] = boundary;
  m.p[RK_WAVE_P_GAIN] = gain;
  m.f[0] = g_new0 (float, (gsize) w * h * d);
  m.f[1] = g_new0 (float, (gsize) w * h * d);
  return m;
}

static void
model_impulse (Model *m, int x, int y, int z, float amplitude, float radius)
{
  rk_wave_impulse imp = { RK_WAVE_IMPULSE, x, y, z, amplitude, radius };
  rk_ref_wave_impulse (m->f[m->cur], m->f[m->cur ^ 1], m->w, m->h, m->d, &imp);
}

static void
model_steps (Model *m, guint n)
{
  for (guint i = 0; i < n; i++) {
    rk_ref_wave_step (m->p, m->f[m->cur], m->f[m->cur ^ 1], m->w, m->h, m->d);
    m->cur ^= 1;
  }
}

/* Pull a frame and compare it with the model's, row by row (the rows' padding aside). */
static void
check_frame (Wave *wv, Model *m, guint format, guint index)
{
  GstSample *s = gst_app_sink_pull_sample (wv->sink);
  fail_unless (s != NULL, "frame %u: no sample", index);
  GstBuffer *b = gst_sample_get_buffer (s);
  GstVideoInfo info;
  fail_unless (gst_video_info_from_caps (&info, gst_sample_get_caps (s)));
  const guint stride = GST_VIDEO_INFO_PLANE_STRIDE (&info, 0), bpp = rk_wave_bpp (format);
  guint8 *want = g_malloc ((gsize) stride * m->h);
  rk_ref_wave_render (m->f[m->cur], m->w, m->h, rk_wave_slice (m->p, m->d), format, stride,
      (float) m->p[RK_WAVE_P_GAIN], want);
  GstMapInfo map;
  fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
  fail_unless_equals_uint64 (map.size, (guint64) stride * m->h);
  for (guint y = 0; y < m->h; y++)
    fail_unless (memcmp (map.data + y * stride, want + y * stride, m->w * bpp) == 0,
        "frame %u differs from the reference in row %u", index, y);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), gst_util_uint64_scale (index, GST_SECOND, 30));
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), index);
  gst_buffer_unmap (b, &map);
  g_free (want);
  gst_sample_unref (s);
}

GST_START_TEST (test_frames_follow_reference)
{
  for (int f = 0; f < 2; f++) {
    const guint format = f ? RK_WAVE_FMT_GRAY16 : RK_WAVE_FMT_RGBA;
    /* an odd width: GRAY16 rows are padded to 4 bytes */
    Wave wv = wave_new ("width=61 height=40 steps-per-frame=5 speed=0.45 damping=0.002 gain=2",
        f ? "video/x-raw,format=GRAY16_LE" : "video/x-raw");
    Model m = model_new (61, 40, 1, 0.45, 0.002, 0, 2.0);
    gboolean ok = FALSE;
    /* an impulse before the first frame's steps */
    g_signal_emit_by_name (wv.src, "impulse", 20, 15, 0, 1.0, 5.0, &ok);
    fail_unless (ok);
    model_impulse (&m, 20, 15, 0, 1.0f, 5.0f);
    fail_unless (gst_element_set_state (wv.pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
    model_steps (&m, 5);
    check_frame (&wv, &m, format, 0);
    model_steps (&m, 5);
    check_frame (&wv, &m, format, 1);
    wave_free (&wv);
    g_free (m.f[0]);
    g_free (m.f[1]);
  }
}
GST_END_TEST;

/* 3D: frames show the chosen slice of the volume, and consecutive frames follow the reference. */
GST_START_TEST (test_commands_between_frames)
{
  Wave wv = wave_new ("width=48 height=32 depth=6 slice=2 steps-per-frame=3 speed=0.4 damping=0",
      "video/x-raw,format=GRAY16_LE");
  Model m = model_new (48, 32, 6, 0.4, 0.0, 0, 1.0);
  m.p[RK_WAVE_P_SLICE] = 2;
  g_object_set (wv.sink, "max-buffers", 1, "drop", FALSE, NULL);
  gboolean ok = FALSE;
  g_signal_emit_by_name (wv.src, "impulse", 10, 10, 2, 0.8, 4.0, &ok);
  fail_unless (ok);
  model_impulse (&m, 10, 10, 2, 0.8f, 4.0f);
  fail_unless (gst_element_set_state (wv.pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  model_steps (&m, 3);
  check_frame (&wv, &m, RK_WAVE_FMT_GRAY16, 0);
  model_steps (&m, 3);
  check_frame (&wv, &m, RK_WAVE_FMT_GRAY16, 1);
  gst_element_set_state (wv.pipe, GST_STATE_NULL);
  wave_free (&wv);
  g_free (m.f[0]);
  g_free (m.f[1]);
}
GST_END_TEST;

/* A navigation event (a click in a video sink's window) and the signal with bad arguments. */
/* The next frame (GRAY16_LE): the levels of the n pixels at byte offsets at[]. */
static void
pull_levels (Wave *wv, const gsize *at, guint16 *level, guint n)
{
  GstSample *s = gst_app_sink_pull_sample (wv->sink);
  fail_unless (s != NULL, "no frame");
  for (guint i = 0; i < n; i++) {
    fail_unless_equals_int (gst_buffer_extract (gst_sample_get_buffer (s), at[i], &level[i], 2), 2);
    level[i] = GUINT16_FROM_LE (level[i]);
  }
  gst_sample_unref (s);
}

GST_START_TEST (test_navigation_and_bad_impulse)
{
  Wave wv = wave_new ("width=40 height=30 steps-per-frame=0 impulse-amplitude=0.5 impulse-radius=3",
      "video/x-raw,format=GRAY16_LE");
  gboolean ok = TRUE;
  g_signal_emit_by_name (wv.src, "impulse", 1, 1, 0, 1.0, 100.0, &ok);
  fail_if (ok, "a radius of 100 cells was taken");
  g_signal_emit_by_name (wv.src, "impulse", 1, 1, 0, NAN, 2.0, &ok);
  fail_if (ok, "a NaN amplitude was taken");
  g_object_set (wv.sink, "max-buffers", 1, NULL);
  fail_unless (gst_element_set_state (wv.pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  GstSample *s = gst_app_sink_pull_sample (wv.sink); /* the source runs */
  gst_sample_unref (s);
  GstPad *pad = gst_element_get_static_pad (wv.src, "src");
  GstEvent *ev = gst_navigation_event_new_mouse_button_press (1, 25.0, 12.0, 0);
  fail_unless (gst_pad_send_event (pad, ev));
  gst_object_unref (pad);
  /* with zero steps per frame, the bump shows as it is, at the click, in a later frame */
  gboolean seen = FALSE;
  for (int i = 0; i < 50 && !seen; i++) {
    const gsize at[2] = { 12 * 80 + 25 * 2, 2 * 80 + 5 * 2 }; /* the click, and away from it */
    guint16 level[2];
    pull_levels (&wv, at, level, 2);
    if (level[0] != 32767) {
      fail_unless_equals_int (level[0], rk_wave_level (0.5f, 1.0f));
      fail_unless_equals_int (level[1], 32767);
      seen = TRUE;
    }
  }
  fail_unless (seen, "the click never showed");
  GstStructure *st = NULL;
  g_object_get (wv.src, "stats", &st, NULL);
  guint64 impulses = 0;
  fail_unless (gst_structure_get_uint64 (st, "impulses", &impulses));
  fail_unless_equals_uint64 (impulses, 1);
  gst_structure_free (st);
  wave_free (&wv);
}
GST_END_TEST;

/* A parameter changed while PLAYING reaches the actor, with no restart: after a change of gain, the
 * frames are drawn with the new gain (no steps, so the field stays as the impulse made it). */
GST_START_TEST (test_live_parameter)
{
  Wave wv = wave_new ("width=32 height=32 steps-per-frame=0 gain=1", "video/x-raw,format=GRAY16_LE");
  g_object_set (wv.sink, "max-buffers", 1, NULL);
  gboolean ok;
  g_signal_emit_by_name (wv.src, "impulse", 16, 16, 0, 0.25, 2.0, &ok);
  fail_unless (gst_element_set_state (wv.pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  GstSample *s = gst_app_sink_pull_sample (wv.sink);
  gst_sample_unref (s);
  g_object_set (wv.src, "gain", 4.0, NULL);
  gboolean seen = FALSE;
  for (int i = 0; i < 50 && !seen; i++) {
    const gsize at = 16 * 64 + 16 * 2;
    guint16 centre;
    pull_levels (&wv, &at, &centre, 1);
    if (centre == 65535)
      seen = TRUE;
    else
      fail_unless_equals_int (centre, rk_wave_level (0.25f, 1.0f));
  }
  fail_unless (seen, "the new gain never showed");
  wave_free (&wv);
}
GST_END_TEST;

static GstMessage *
wait_error (GstElement *pipe)
{
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND, GST_MESSAGE_ERROR);
  gst_object_unref (bus);
  return msg;
}

/* Caps that do not fit the grid are refused at negotiation; a grid too large does not start. */
GST_START_TEST (test_refusals)
{
  /* linked (appsink takes anything), then refused when the caps are agreed */
  Wave wv = wave_new ("width=64 height=48", "identity");
  GstCaps *caps = gst_caps_from_string ("video/x-raw,width=65");
  g_object_set (wv.sink, "caps", caps, NULL);
  gst_caps_unref (caps);
  gst_element_set_state (wv.pipe, GST_STATE_PLAYING);
  GstMessage *msg = wait_error (wv.pipe);
  fail_unless (msg != NULL, "caps for another width were taken");
  GError *err = NULL;
  gchar *dbg = NULL;
  gst_message_parse_error (msg, &err, &dbg);
  fail_unless (dbg && strstr (dbg, "not-negotiated") != NULL, "%s (%s)", err->message, dbg);
  g_error_free (err);
  g_free (dbg);
  gst_message_unref (msg);
  wave_free (&wv);

  wv = wave_new ("width=16384 height=16384 depth=2", "video/x-raw");
  fail_unless_equals_int (gst_element_set_state (wv.pipe, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  msg = wait_error (wv.pipe);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (strstr (err->message, "more than") != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  wave_free (&wv);
}
GST_END_TEST;

/* Live: the latency is one frame; not live: none. */
GST_START_TEST (test_latency)
{
  GstElement *src = gst_element_factory_make ("rkwavesrc", NULL);
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);
  GstElement *pipe = gst_pipeline_new (NULL);
  g_object_set (src, "backend", 1 /* cpu */, "width", 32, "height", 32, "framerate", 25, 1, NULL);
  gst_bin_add_many (GST_BIN (pipe), src, sink, NULL);
  fail_unless (gst_element_link (src, sink));
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  gst_element_get_state (pipe, NULL, NULL, 5 * GST_SECOND);
  GstQuery *q = gst_query_new_latency ();
  fail_unless (gst_element_query (src, q));
  gboolean live;
  GstClockTime min, max;
  gst_query_parse_latency (q, &live, &min, &max);
  fail_unless (live);
  fail_unless_equals_uint64 (min, GST_SECOND / 25);
  gst_query_unref (q);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);
}
GST_END_TEST;

/* K2K: rkwavesrc straight into `rkactor kernel=levels` on the same backend draws each frame into the
 * actor's inbox, and only a token crosses the pad; the frames that come out equal the reference's,
 * levelled by the C handler, and equal those of the host path (link=host). */
static guint64
stat_u64 (GstElement *e, const gchar *field)
{
  GstStructure *st = NULL;
  guint64 v = G_MAXUINT64;
  g_object_get (e, "stats", &st, NULL);
  fail_unless (st && gst_structure_get_uint64 (st, field, &v), "no %s in the stats", field);
  gst_structure_free (st);
  return v;
}

GST_START_TEST (test_k2k_into_levels)
{
  const rk_handler *levels = rk_handler_find ("levels");
  const double lp[RK_MAX_PARAMS] = { 1.5, -16000.0 };
  enum { FRAMES = 6 };
  fail_unless (levels != NULL);
  for (int host = 0; host < 2; host++) {
    gchar *desc = g_strdup_printf ("rkwavesrc name=src is-live=false backend=%s link=%s width=61 "
        "height=40 steps-per-frame=5 speed=0.45 damping=0.002 gain=2 num-buffers=%d ! rkactor "
        "name=lv backend=%s kernel=levels params=\"p,a=1.5,b=-16000\" ! appsink name=sink sync=false",
        backend (), host ? "host" : "auto", FRAMES, backend ());
    Wave wv = { .pipe = gst_parse_launch (desc, NULL) };
    g_free (desc);
    fail_unless (wv.pipe != NULL);
    wv.src = gst_bin_get_by_name (GST_BIN (wv.pipe), "src");
    wv.sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (wv.pipe), "sink"));
    GstElement *lv = gst_bin_get_by_name (GST_BIN (wv.pipe), "lv");
    Model m = model_new (61, 40, 1, 0.45, 0.002, 0, 2.0);
    gboolean ok = FALSE;
    g_signal_emit_by_name (wv.src, "impulse", 20, 15, 0, 1.0, 5.0, &ok);
    fail_unless (ok);
    model_impulse (&m, 20, 15, 0, 1.0f, 5.0f);
    fail_unless (gst_element_set_state (wv.pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
    for (guint i = 0; i < FRAMES; i++) {
      model_steps (&m, 5);
      GstSample *s = gst_app_sink_pull_sample (wv.sink);
      fail_unless (s != NULL, "frame %u: no sample", i);
      GstVideoInfo info;
      fail_unless (gst_video_info_from_caps (&info, gst_sample_get_caps (s)));
      fail_unless (GST_VIDEO_INFO_FORMAT (&info) == GST_VIDEO_FORMAT_GRAY16_LE);
      const guint stride = GST_VIDEO_INFO_PLANE_STRIDE (&info, 0), bytes = stride * m.h;
      guint8 *frame = g_malloc0 (bytes), *want = g_malloc (bytes);
      guint32 n = 0;
      rk_ref_wave_render (m.f[m.cur], m.w, m.h, 0, RK_WAVE_FMT_GRAY16, stride, 2.0f, frame);
      fail_unless (levels->process (NULL, lp, frame, bytes, want, bytes, &n) == RK_STATUS_OK);
      GstBuffer *b = gst_sample_get_buffer (s);
      GstMapInfo map;
      fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
      fail_unless_equals_uint64 (map.size, bytes);
      for (guint y = 0; y < m.h; y++)
        fail_unless (memcmp (map.data + y * stride, want + y * stride, m.w * 2) == 0,
            "%s path, frame %u differs from the reference in row %u", host ? "host" : "K2K", i, y);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (b), gst_util_uint64_scale (i, GST_SECOND, 30));
      gst_buffer_unmap (b, &map);
      g_free (frame);
      g_free (want);
      gst_sample_unref (s);
    }
    GstSample *eos = gst_app_sink_pull_sample (wv.sink);
    fail_unless (eos == NULL && gst_app_sink_is_eos (wv.sink), "EOS after the frames");
    /* the backends here (cpu, cuda) link persistent actors: the frames went on the device unless
     * link=host asked otherwise */
    fail_unless_equals_uint64 (stat_u64 (wv.src, "tokens-out"), host ? 0 : FRAMES);
    fail_unless_equals_uint64 (stat_u64 (lv, "tokens-in"), host ? 0 : FRAMES);
    gst_object_unref (lv);
    wave_free (&wv);
    g_free (m.f[0]);
    g_free (m.f[1]);
  }
}
GST_END_TEST;

static Suite *
rkwavesrc_suite (void)
{
  Suite *s = suite_create ("rkwavesrc");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_frames_follow_reference);
  tcase_add_test (tc, test_commands_between_frames);
  tcase_add_test (tc, test_navigation_and_bad_impulse);
  tcase_add_test (tc, test_live_parameter);
  tcase_add_test (tc, test_refusals);
  tcase_add_test (tc, test_latency);
  tcase_add_test (tc, test_k2k_into_levels);
  return s;
}

GST_CHECK_MAIN (rkwavesrc);
