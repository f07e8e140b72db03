/* bench-move: what moving a running actor costs the stream, one run.
 *
 *   GST_PLUGIN_PATH=build/plugin bench-move [--quick]
 *
 * appsrc ! rkactor kernel=accumulate ! appsink, one buffer at a time (pushed, then pulled, then the
 * next). Every few buffers a property change moves the actor, between two buffers:
 *   cpu -> cpu      ring-size changed: a new CPU actor takes over the state
 *   cuda -> cuda    the same on the GPU: a new persistent kernel on the same device
 *   cpu -> cuda, cuda -> cpu   backend changed, back and forth
 * for states of 2 KiB and 2 MiB (buffers of 256 and 262,144 floats: accumulate keeps a double per
 * sample). For each: the pause the element reports (from the snapshot's submission until the new
 * actor has restored the state and taken over), the round trip of the buffer that waited for the
 * move, and the median round trip of the buffers between moves, in the same run (the baseline).
 * The new actor starts on a thread of its own as soon as the property changes; each move is made
 * twice over, with the next buffer right after the change (the stream waits for the rest of that
 * start) and 20 ms after it (a frame at 50 frames a second: the start is over by then). Moves that
 * cannot run here (no CUDA device) are listed as skipped.
 */
#include <gst/app/app.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAPS "audio/x-raw,format=F32LE,layout=interleaved,rate=48000,channels=1"
#define GAP_MS 20 /* a frame at 50 frames a second */

static gboolean quick;

typedef struct {
  double pause[64], launch[64], waited[64], handover[64], rtt_move[64];
  guint n;
} Series;

/* Round trips of the buffers between moves, per backend the actor was on (0 = cpu, 1 = cuda). */
typedef struct {
  double rtt[2][1024];
  guint n[2];
} Baseline;

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (double *v, guint n)
{
  qsort (v, n, sizeof *v, cmp_double);
  return n ? v[n / 2] : 0;
}

/* One buffer through: its round trip in microseconds, or a negative value on failure. */
static double
round_trip (GstAppSrc *src, GstAppSink *sink, const float *x, guint samples, guint index)
{
  GstBuffer *buf = gst_buffer_new_memdup (x, samples * sizeof (float));
  GST_BUFFER_PTS (buf) = index * GST_MSECOND;
  const gint64 t0 = g_get_monotonic_time ();
  if (gst_app_src_push_buffer (src, buf) != GST_FLOW_OK)
    return -1;
  GstSample *s = gst_app_sink_try_pull_sample (sink, 10 * GST_SECOND);
  const gint64 t1 = g_get_monotonic_time ();
  if (!s)
    return -1;
  gst_sample_unref (s);
  return (double) (t1 - t0);
}

/* The "rkactor-moved" message's pause (and its launch and handover parts), or a negative value when a
 * warning or error came instead. */
static double
moved_pause (GstBus *bus, double *launch, double *waited, double *handover, gchar **why)
{
  for (;;) {
    GstMessage *m = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND,
        GST_MESSAGE_ELEMENT | GST_MESSAGE_WARNING | GST_MESSAGE_ERROR);
    if (!m) {
      *why = g_strdup ("no message");
      return -1;
    }
    if (GST_MESSAGE_TYPE (m) != GST_MESSAGE_ELEMENT) {
      GError *err = NULL;
      if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_WARNING)
        gst_message_parse_warning (m, &err, NULL);
      else
        gst_message_parse_error (m, &err, NULL);
      *why = g_strdup (err->message);
      g_error_free (err);
      gst_message_unref (m);
      return -1;
    }
    const GstStructure *s = gst_message_get_structure (m);
    double pause = -1;
    gboolean ours = gst_structure_has_name (s, "rkactor-moved")
        && gst_structure_get_double (s, "pause-us", &pause)
        && gst_structure_get_double (s, "launch-us", launch)
        && gst_structure_get_double (s, "waited-launch-us", waited)
        && gst_structure_get_double (s, "handover-us", handover);
    gst_message_unref (m);
    if (ours)
      return pause;
  }
}

/* Start on `first`; each move sets backend to the next of `backends` (cycling) and toggles ring-size.
 * Fills one series per backend pair in `out` (indexed by from * 2 + to, 0 = cpu, 1 = cuda). */
static gboolean
run (const char *first, const char *const *backends, guint nb, guint samples, guint gap_ms, Series *out,
    Baseline *base, gchar **why)
{
  gchar *desc = g_strdup_printf ("appsrc name=src format=time block=true caps=" CAPS " ! rkactor "
      "name=a kernel=accumulate backend=%s ! appsink name=sink sync=false", first);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstBus *bus = gst_element_get_bus (p);
  GstElement *a = gst_bin_get_by_name (GST_BIN (p), "a");
  GstAppSrc *src = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (p), "src"));
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  float *x = g_new (float, samples);
  const guint moves = quick ? 6 : 24, between = quick ? 10 : 30;
  guint index = 0, at = 0;
  gboolean ok = TRUE;

  g_free (desc);
  for (guint i = 0; i < samples; i++)
    x[i] = (float) (i % 97) * 0.25f;
  if (gst_element_set_state (p, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    *why = g_strdup_printf ("backend=%s does not start", first);
    ok = FALSE;
    goto done;
  }
  for (guint i = 0; i < 50 && ok; i++) /* warm up */
    ok = round_trip (src, sink, x, samples, index++) >= 0;
  for (guint m = 0; m < moves && ok; m++) {
    const guint from = g_str_equal (backends[at], "cuda"), next = (at + 1) % nb;
    for (guint i = 0; i < between && ok; i++) {
      double rt = round_trip (src, sink, x, samples, index++);
      ok = rt >= 0;
      if (ok && base->n[from] < G_N_ELEMENTS (base->rtt[from]))
        base->rtt[from][base->n[from]++] = rt;
    }
    const guint to = g_str_equal (backends[next], "cuda");
    gst_util_set_object_arg (G_OBJECT (a), "backend", backends[next]);
    g_object_set (a, "ring-size", m % 2 ? 64 : 32, NULL);
    at = next;
    if (gap_ms) /* the next buffer comes a while later, as in a stream of frames */
      g_usleep (gap_ms * 1000);
    double rt = round_trip (src, sink, x, samples, index++);
    double launch = 0, waited = 0, handover = 0, pause = moved_pause (bus, &launch, &waited, &handover, why);
    if (rt < 0 || pause < 0) {
      ok = FALSE;
      break;
    }
    Series *s = &out[from * 2 + to];
    if (s->n < G_N_ELEMENTS (s->pause)) {
      s->pause[s->n] = pause;
      s->launch[s->n] = launch;
      s->waited[s->n] = waited;
      s->handover[s->n] = handover;
      s->rtt_move[s->n] = rt;
      s->n++;
    }
  }
done:
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (a);
  gst_object_unref (bus);
  gst_object_unref (p);
  g_free (x);
  return ok;
}

int
main (int argc, char **argv)
{
  static const char *const cpu_only[] = { "cpu" }, *const cuda_only[] = { "cuda" },
      *const both[] = { "cpu", "cuda" };
  static const char *names[] = { "cpu -> cpu", "cpu -> cuda", "cuda -> cpu", "cuda -> cuda" };
  const guint sizes[] = { 256, 262144 };

  gst_init (&argc, &argv);
  for (int i = 1; i < argc; i++)
    if (!strcmp (argv[i], "--quick"))
      quick = TRUE;

  printf ("moving a running accumulate actor between two buffers (%s run)\n\n", quick ? "quick" : "full");
  printf ("| move | state | gap (ms) | moves | stream waited, median (us) | of it: for the new actor's "
          "start | handover | the start, on its own thread | max waited | round trip of the buffer "
          "that waited, median (us) | round trip between moves there, median (us) | ratio |\n");
  printf ("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (guint z = 0; z < 2 * G_N_ELEMENTS (sizes); z++) {
    const guint gap = z % 2 ? GAP_MS : 0, samples = sizes[z / 2];
    Series s[4];
    Baseline *base = g_new0 (Baseline, 1);
    gchar *why = NULL;
    memset (s, 0, sizeof s);
    struct {
      const char *first;
      const char *const *list;
      guint n;
    } runs[] = { { "cpu", cpu_only, 1 }, { "cuda", cuda_only, 1 }, { "cpu", both, 2 } };
    for (guint r = 0; r < G_N_ELEMENTS (runs); r++) {
      if (!run (runs[r].first, runs[r].list, runs[r].n, samples, gap, s, base, &why)) {
        printf ("| %s%s | %u KiB | %u | skipped: %s | | | | | | | |\n", runs[r].first,
            runs[r].n > 1 ? " <-> cuda" : " -> same", samples * 8 / 1024, gap, why ? why : "failed");
        g_clear_pointer (&why, g_free);
      }
    }
    const double b[2] = { median (base->rtt[0], base->n[0]), median (base->rtt[1], base->n[1]) };
    const guint order[] = { 0, 3, 1, 2 };
    for (guint o = 0; o < 4; o++) {
      Series *x = &s[order[o]];
      if (!x->n)
        continue;
      const double lm = median (x->launch, x->n), wm = median (x->waited, x->n), hm = median (x->handover, x->n);
      double pm = median (x->pause, x->n), pmax = x->pause[x->n - 1], rm = median (x->rtt_move, x->n);
      const double bt = b[order[o] & 1]; /* on the backend it moved to */
      printf ("| %s | %u KiB | %u | %u | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1fx |\n",
          names[order[o]], samples * 8 / 1024, gap, x->n, pm, wm, hm, lm, pmax, rm, bt, bt > 0 ? rm / bt : 0);
    }
    g_free (base);
  }
  printf ("\nstream waited: from the buffer's arrival until the old actor ended (the element's pause-us); "
          "of it for the start: what was left of the new actor's start, which began on a thread of its "
          "own when the property changed (waited-launch-us); handover: from the snapshot's submission "
          "until the new actor took over; the start: how long it took (launch-us). gap: how long after "
          "the property change the next buffer came. Medians of each column apart.\n");
  printf ("ratio: the round trip of the buffer that waited for a move over the median round trip of "
          "the buffers between moves on the backend it moved to, in the same run.\n");
  return 0;
}
