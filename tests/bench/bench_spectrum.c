/* bench-spectrum: FFT frames per second of rkspectrum against GStreamer's spectrum, same input, one run.
 *
 *   GST_PLUGIN_PATH=build/plugin bench-spectrum [--quick]
 *
 * The same audio (S16LE at 48 kHz, tones and noise, buffers of 4096 frames, pushed from memory by
 * appsrc as fast as the element takes them) goes through
 *   spectrum                               gst-plugins-good's element, the baseline
 *   rkspectrum backend=cpu                 the actor on a host thread
 *   rkspectrum backend=cuda                a persistent kernel
 *   rkspectrum backend=cuda mode=launch    kernel launches and a wait per buffer
 *   rkspectrum backend=vulkan              host-driven dispatches, one submission per buffer
 * with bands=1024 (an FFT of 2046 frames), multi-channel=true and 2, 16 and 64 channels, at the
 * default interval (100 ms: 2 FFTs per message and channel, so building the messages' 1024 values per
 * channel weighs as much as the FFTs, for both elements) and at 1 s (23 FFTs per message). Timed: from
 * the first buffer pushed to EOS on the bus (every message is posted by then).
 * An FFT frame is one FFT of one channel; the count is rkspectrum's own (stats "ffts"), and both
 * elements must post the same number of messages, else the row says so. Configurations that cannot
 * run (no GPU) are listed as skipped.
 *
 * Each backend runs once before the timed runs, so that no row pays for opening its device.
 * Then the actor alone, without GStreamer: the same commands (4096 frames of 64 channels, as rkspectrum
 * plans them at 1 s) submitted straight to an actor with 8 in flight, in microseconds per command,
 * which shows what the element adds.
 */
#include <gst/app/app.h>
#include <gst/gst.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk_actor.h"
#include "rk_backend.h"
#include "rk_handlers.h"
#include "rk_spectrum.h"
#include "rk_wait.h"

#define RATE 48000
#define FRAMES_PER_BUFFER 4096
#define BANDS 1024

typedef struct {
  const char *label;
  const char *element; /* with its properties */
} Config;

static const Config configs[] = {
  { "spectrum", "spectrum" },
  { "rkspectrum cpu", "rkspectrum backend=cpu" },
  { "rkspectrum cuda", "rkspectrum backend=cuda" },
  { "rkspectrum cuda launch", "rkspectrum backend=cuda mode=launch" },
  { "rkspectrum vulkan", "rkspectrum backend=vulkan" },
};

typedef struct {
  gboolean ok;
  double seconds;
  guint64 messages, ffts;
  gchar why[256];
} Result;

static GstBuffer **
make_audio (guint channels, guint n)
{
  GstBuffer **b = g_new (GstBuffer *, n);
  guint64 rng = 0x9e3779b97f4a7c15ull;
  for (guint i = 0; i < n; i++) {
    gint16 *s = g_new (gint16, (gsize) FRAMES_PER_BUFFER * channels);
    for (guint f = 0; f < FRAMES_PER_BUFFER; f++)
      for (guint c = 0; c < channels; c++) {
        const double t = (double) ((guint64) i * FRAMES_PER_BUFFER + f) / RATE;
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        const double v = 0.4 * sin (2 * G_PI * (220.0 + 97.0 * c) * t) + 0.02 * ((double) (rng >> 11) / 9007199254740992.0 - 0.5);
        s[(gsize) f * channels + c] = (gint16) (v * 32767);
      }
    b[i] = gst_buffer_new_wrapped (s, (gsize) FRAMES_PER_BUFFER * channels * 2);
    GST_BUFFER_PTS (b[i]) = gst_util_uint64_scale ((guint64) i * FRAMES_PER_BUFFER, GST_SECOND, RATE);
    GST_BUFFER_DURATION (b[i]) = gst_util_uint64_scale (FRAMES_PER_BUFFER, GST_SECOND, RATE);
  }
  return b;
}

static Result
run (const Config *c, guint channels, guint64 interval, GstBuffer **audio, guint n)
{
  Result r = { 0 };
  gchar *desc = g_strdup_printf ("appsrc name=src is-live=false format=time block=true max-bytes=%u "
      "caps=audio/x-raw,format=S16LE,layout=interleaved,rate=%d,channels=%u%s ! %s name=spec bands=%d "
      "multi-channel=true interval=%" G_GUINT64_FORMAT " ! fakesink sync=false", 1u << 24, RATE, channels,
      channels > 2 ? ",channel-mask=(bitmask)0" : "", c->element, BANDS, interval);
  GError *err = NULL;
  GstElement *pipe = gst_parse_launch (desc, &err);
  g_free (desc);
  if (!pipe || err) {
    snprintf (r.why, sizeof r.why, "%s", err ? err->message : "cannot build the pipeline");
    g_clear_error (&err);
    if (pipe)
      gst_object_unref (pipe);
    return r;
  }
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstElement *spec = gst_bin_get_by_name (GST_BIN (pipe), "spec");
  GstBus *bus = gst_element_get_bus (pipe);
  /* no wait for the preroll, which needs the first buffer: an actor that cannot start posts an error,
   * found on the bus below */
  if (gst_element_set_state (pipe, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
    GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    snprintf (r.why, sizeof r.why, "does not start");
    if (m) {
      GError *e = NULL;
      gst_message_parse_error (m, &e, NULL);
      snprintf (r.why, sizeof r.why, "%s", e->message);
      g_error_free (e);
      gst_message_unref (m);
    }
    goto out;
  }
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  const gint64 t0 = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    gst_app_src_push_buffer (GST_APP_SRC (src), gst_buffer_ref (audio[i]));
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  for (;;) {
    GstMessage *m = gst_bus_timed_pop (bus, 600 * GST_SECOND);
    if (!m) {
      snprintf (r.why, sizeof r.why, "no EOS within 600 s");
      goto out;
    }
    const GstMessageType t = GST_MESSAGE_TYPE (m);
    if (t == GST_MESSAGE_ELEMENT && gst_message_has_name (m, "spectrum"))
      r.messages++;
    if (t == GST_MESSAGE_ERROR) {
      GError *e = NULL;
      gst_message_parse_error (m, &e, NULL);
      snprintf (r.why, sizeof r.why, "%s", e->message);
      g_error_free (e);
      gst_message_unref (m);
      goto out;
    }
    gst_message_unref (m);
    if (t == GST_MESSAGE_EOS)
      break;
  }
  r.seconds = (g_get_monotonic_time () - t0) / 1e6;
  r.ok = TRUE;
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (spec), "stats")) {
    GstStructure *s = NULL;
    g_object_get (spec, "stats", &s, NULL);
    gst_structure_get_uint64 (s, "ffts", &r.ffts);
    gst_structure_free (s);
  }
out:
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (spec);
  gst_object_unref (pipe);
  return r;
}

/* The actor alone: n commands of `channels` channels from audio[], 8 in flight; us per command. */
static double
raw_actor (rk_backend_kind kind, rk_actor_mode mode, guint channels, GstBuffer **audio, guint n,
    gchar *why, gsize why_len)
{
  const rk_backend_ops *ops = rk_backend_get (kind, why, why_len);
  if (!ops)
    return -1;
  const rk_handler *h = rk_handler_find ("spectrum");
  double p[RK_MAX_PARAMS];
  rk_handler_default_params (h, p);
  p[RK_SPECTRUM_P_BANDS] = BANDS;
  p[RK_SPECTRUM_P_CHANNELS] = channels;
  rk_actor_config cfg = { .backend = ops, .handler = h, .mode = mode, .ring_entries = 64,
    .in_arena_size = 16u << 20, .out_arena_size = 64u << 20, .params = p };
  rk_actor *a = NULL;
  if (rk_actor_new (&cfg, &a, why, why_len) < 0)
    return -1;
  rk_spectrum_planner plan;
  rk_spectrum_planner_init (&plan, BANDS, GST_SECOND, RATE);
  rk_spectrum_event ev[64];
  guint8 *cmd = g_malloc (rk_spectrum_command_size (RK_SPECTRUM_S16, channels, FRAMES_PER_BUFFER, 64));
  const guint32 per_end = 2 * channels * BANDS * 4;
  guint sent = 0, got = 0;
  gint64 t0 = 0;
  while (got < n) {
    if (sent < n && sent - got < 8) {
      GstMapInfo map;
      guint32 k = 0;
      rk_spectrum_plan (&plan, FRAMES_PER_BUFFER, ev, 64, &k, NULL);
      guint32 ends = 0;
      for (guint32 i = 0; i < k; i++)
        ends += (ev[i].kind & RK_SPECTRUM_EV_END) != 0;
      gst_buffer_map (audio[sent], &map, GST_MAP_READ);
      rk_spectrum_cmd c = { .format = RK_SPECTRUM_S16, .channels = channels, .frames = FRAMES_PER_BUFFER,
        .flags = RK_SPECTRUM_F_MAGNITUDE, .threshold = -60 };
      const guint32 len = rk_spectrum_command_write (cmd, &c, ev, k, map.data);
      gst_buffer_unmap (audio[sent], &map);
      rk_record rec = { .type = RK_CMD_PROCESS };
      if (sent == 1)
        t0 = g_get_monotonic_time (); /* the first command pays the actor's warm-up */
      if (rk_actor_submit (a, &rec, cmd, len, ends * per_end / 2, -1) < 0)
        break;
      sent++;
      continue;
    }
    rk_answer ans;
    if (rk_actor_receive (a, &ans, -1) < 0 || ans.rec.status != RK_STATUS_OK) {
      g_snprintf (why, why_len, "command %u failed", got);
      break;
    }
    rk_actor_release_output (a, ans.out_token);
    got++;
  }
  const double us = got == n && n > 1 ? (g_get_monotonic_time () - t0) / (double) (n - 1) : -1;
  rk_actor_stop (a, 10 * GST_SECOND);
  rk_actor_unref (a);
  g_free (cmd);
  return us;
}

int
main (int argc, char **argv)
{
  gboolean quick = argc > 1 && strcmp (argv[1], "--quick") == 0;
  gst_init (&argc, &argv);
  static const guint chans[] = { 2, 16, 64 };
  const double audio_seconds = quick ? 2.0 : 20.0;

  printf ("# bench-spectrum: %u bands (FFT of %u frames), S16LE at %d Hz, %u-frame buffers, %.0f s "
      "of audio per run\n\n", BANDS, 2 * BANDS - 2, RATE, FRAMES_PER_BUFFER, audio_seconds);
  printf ("| element | interval | channels | messages | FFT frames | seconds | FFT frames/s | over spectrum | "
      "audio seconds per second |\n|---|---|---|---|---|---|---|---|---|\n");
  /* each backend once, untimed: opening a device (a CUDA context, a Vulkan device and its pipelines)
   * happens once per process and is not what the rows measure */
  {
    GstBuffer **warm = make_audio (2, 4);
    for (guint i = 1; i < G_N_ELEMENTS (configs); i++)
      run (&configs[i], 2, GST_SECOND / 10, warm, 4);
    for (guint i = 0; i < 4; i++)
      gst_buffer_unref (warm[i]);
    g_free (warm);
  }
  static const guint64 intervals[] = { GST_SECOND / 10, GST_SECOND };
  for (guint q = 0; q < G_N_ELEMENTS (chans) * G_N_ELEMENTS (intervals); q++) {
    const guint k = q % G_N_ELEMENTS (chans);
    const guint64 interval = intervals[q / G_N_ELEMENTS (chans)];
    const guint n = (guint) (audio_seconds * RATE / FRAMES_PER_BUFFER);
    GstBuffer **audio = make_audio (chans[k], n);
    Result base = { 0 };
    guint64 ffts = 0;
    Result res[G_N_ELEMENTS (configs)];
    /* the rkspectrum rows first: their FFT count is the baseline's too (the same plan) */
    for (guint i = G_N_ELEMENTS (configs); i-- > 0;) {
      res[i] = run (&configs[i], chans[k], interval, audio, n);
      if (res[i].ok && res[i].ffts)
        ffts = res[i].ffts;
    }
    base = res[0];
    for (guint i = 0; i < G_N_ELEMENTS (configs); i++) {
      const Result *r = &res[i];
      if (!r->ok) {
        printf ("| %s | %.1f s | %u | skipped: %s | | | | | |\n", configs[i].label, interval / 1e9, chans[k],
            r->why);
        continue;
      }
      const double rate = ffts / r->seconds;
      gchar ratio[64] = "";
      if (base.ok && r->messages == base.messages)
        g_snprintf (ratio, sizeof ratio, "%.2f", base.seconds / r->seconds);
      else if (base.ok)
        g_snprintf (ratio, sizeof ratio, "messages differ (%" G_GUINT64_FORMAT ")", base.messages);
      printf ("| %s | %.1f s | %u | %" G_GUINT64_FORMAT " | %" G_GUINT64_FORMAT " | %.3f | %.3g | %s | %.1f |\n",
          configs[i].label, interval / 1e9, chans[k], r->messages, ffts, r->seconds, rate, ratio,
          audio_seconds / r->seconds);
    }
    for (guint i = 0; i < n; i++)
      gst_buffer_unref (audio[i]);
    g_free (audio);
  }

  printf ("\n## The actor alone (no GStreamer): commands of 4096 frames, magnitudes, 8 in flight\n\n");
  printf ("| backend | channels | us per command | FFT frames/s |\n|---|---|---|---|\n");
  static const struct { const char *label; rk_backend_kind kind; rk_actor_mode mode; } raws[] = {
    { "cpu", RK_BACKEND_CPU, RK_MODE_PERSISTENT }, { "cuda", RK_BACKEND_CUDA, RK_MODE_PERSISTENT },
    { "cuda launch", RK_BACKEND_CUDA, RK_MODE_LAUNCH }, { "vulkan", RK_BACKEND_VULKAN, RK_MODE_PERSISTENT },
  };
  for (guint k = 0; k < G_N_ELEMENTS (chans); k++) {
    const guint n = quick ? 40 : 200;
    GstBuffer **audio = make_audio (chans[k], n);
    for (guint i = 0; i < G_N_ELEMENTS (raws); i++) {
      gchar why[256] = "";
      const double us = raw_actor (raws[i].kind, raws[i].mode, chans[k], audio, n, why, sizeof why);
      if (us < 0)
        printf ("| %s | %u | skipped: %s | |\n", raws[i].label, chans[k], why);
      else
        printf ("| %s | %u | %.1f | %.3g |\n", raws[i].label, chans[k], us,
            (double) FRAMES_PER_BUFFER / (2 * BANDS - 2) * chans[k] / (us * 1e-6));
    }
    for (guint i = 0; i < n; i++)
      gst_buffer_unref (audio[i]);
    g_free (audio);
  }
  return 0;
}
