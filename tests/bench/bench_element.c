/* bench-element: buffers through rkactor inside GStreamer, against GStreamer's own elements, one run.
 *
 *   GST_PLUGIN_PATH=build/plugin bench-element [--quick]
 *
 * Round trip: one buffer pushed into appsrc and pulled from appsink, the next pushed only then, through
 *   identity                      GStreamer's own cost of the same pipeline shape
 *   rkactor backend=cpu
 *   rkactor backend=cuda          a persistent kernel
 *   rkactor backend=cuda mode=launch   one kernel launch and synchronisation per buffer
 *   rkactor backend=vulkan        host-driven: one compute dispatch and wait per buffer
 *   cudaupload ! cudadownload     GStreamer's CUDA elements (when nvcodec is installed)
 * with 64-byte and 4 KiB buffers (video/x-raw RGBA 4x4 and 32x32, so that cudaupload takes them);
 * then again with a pause of a millisecond before each buffer, as from a live source, where the
 * element's threads have gone idle between buffers.
 * Besides the whole round trip, each row gives the time in the middle alone: from the buffer leaving
 * appsrc's source pad to its result reaching appsink's sink pad (pad probes), which leaves out the
 * hand-offs between the application's thread and appsrc's and appsink's; and for an actor, the round
 * trip from its H2K ring to its K2H ring as the actor's element saw it (stats rtt-p50-us).
 * Streaming: buffers pushed as fast as appsrc takes them while another thread pulls, for 64 B, 64 KiB,
 * 1 MiB and 8 MiB; buffers per second and GB/s. Lists: 64-byte buffers in lists of 64. Messages:
 * 64-byte records packed in 64 KiB buffers, each its own record on the ring (message-size=64), in
 * records per second. Source: videotestsrc (black RGBA frames of about
 * 8 MiB), which takes the pool rkactor proposes and so writes its frames into the actor's memory;
 * identity in its place shows what the source alone can produce. Configurations that cannot run are
 * listed as skipped. --only runs only the configurations named (their labels, as in the tables,
 * separated by commas), e.g. --only "identity,rkactor backend=cuda"; --round-trips runs the first
 * table alone (round trips, buffers one after the other), here and with --chains.
 *
 *   bench-element --chains [cpu,cuda,vulkan] [--links auto,staged,host] [--quick]
 *
 * Chains of 1, 2, 4 and 8 echo actors (CPU, CUDA and Vulkan backends), linked on the device (K2K,
 * link=auto), through an inbox in host memory (link=staged: the path between two GPUs without peer
 * access) and through the host (link=host), in one run: round trip (min, median, p99), the latency
 * each hop adds (from the whole round trip, and from the time in the middle alone), and streaming throughput of 64 KiB and 1 MiB buffers. A chain whose first link took
 * another path than its label's fails. --links runs only the chains of the links named.
 */
#include <gst/app/app.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *label;
  const char *middle; /* between appsrc and appsink */
  double rt_median[2];
  double in_median[2]; /* of the time from appsrc's src pad to appsink's sink pad */
  double apart_rt_median[2], apart_in_median[2]; /* the same, buffers a millisecond apart */
  gboolean ok;
  /* chains: the path the first link must have taken (an actor named r0 says so in its stats), or NULL */
  const char *want_link;
} Config;

/* Whether the actor r0 of a chain sent its data down the path wanted (stats "link-out"). */
static gboolean
link_is (GstElement *p, const char *want, const char **got)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (p), "r0");
  GstStructure *st = NULL;
  static char seen[32];
  if (e) {
    g_object_get (e, "stats", &st, NULL);
    gst_object_unref (e);
  }
  g_strlcpy (seen, st && gst_structure_get_string (st, "link-out") ? gst_structure_get_string (st, "link-out")
      : "unknown", sizeof seen);
  if (st)
    gst_structure_free (st);
  *got = seen;
  return strcmp (seen, want) == 0;
}

static gboolean quick;
static const char *only, *only_links; /* --only, --links: names separated by commas, or NULL: all */
static gboolean round_trips_only;     /* --round-trips */

/* Whether name is one of list's (names separated by commas), or list is NULL. */
static gboolean
selected (const char *list, const char *name)
{
  if (!list)
    return TRUE;
  gchar **names = g_strsplit (list, ",", -1);
  gboolean found = g_strv_contains ((const gchar *const *) names, name);
  g_strfreev (names);
  return found;
}
#define APART_US 1000 /* the pause between buffers of the round trips "apart" */

static int
cmp_i64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static GstElement *
make (const Config *c, int side, GstAppSrc **src, GstAppSink **sink)
{
  gchar *desc = g_strdup_printf ("appsrc name=src is-live=false format=time block=true "
                                 "caps=video/x-raw,format=RGBA,width=%d,height=%d,framerate=0/1 "
                                 "! %s ! appsink name=sink sync=false max-buffers=0",
      side, side, c->middle);
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);
  g_free (desc);
  if (!p || err) {
    g_clear_error (&err);
    if (p)
      gst_object_unref (p);
    return NULL;
  }
  *src = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (p), "src"));
  *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  if (gst_element_set_state (p, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    /* say why on stderr (the table says "skipped") */
    GstBus *bus = gst_element_get_bus (p);
    GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    if (m) {
      GError *e = NULL;
      gst_message_parse_error (m, &e, NULL);
      fprintf (stderr, "%s: %s\n", c->middle, e->message);
      g_error_free (e);
      gst_message_unref (m);
    }
    gst_object_unref (bus);
    gst_object_unref (*src);
    gst_object_unref (*sink);
    gst_element_set_state (p, GST_STATE_NULL);
    gst_object_unref (p);
    return NULL;
  }
  return p;
}

static void
destroy (GstElement *p, GstAppSrc *src, GstAppSink *sink)
{
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (p);
}

/* When the buffer under way left appsrc (its src pad) and reached appsink (its sink pad): both probes run
 * in streaming threads, one buffer at a time. */
typedef struct {
  gint64 left, reached;
} Stamps;

static GstPadProbeReturn
stamp (GstPad *pad, GstPadProbeInfo *info, gpointer when)
{
  __atomic_store_n ((gint64 *) when, gst_util_get_timestamp (), __ATOMIC_RELEASE);
  return GST_PAD_PROBE_OK;
}

/* Stamp *when as each buffer passes e's pad. */
static void
add_probe (GstElement *e, const char *pad, gint64 *when)
{
  GstPad *p = gst_element_get_static_pad (e, pad);
  gst_pad_add_probe (p, GST_PAD_PROBE_TYPE_BUFFER, stamp, when, NULL);
  gst_object_unref (p);
}

/* gap_us: the pause between one buffer's result and the next buffer (0: none) */
static void
bench_round_trip (Config *c, int gap_us)
{
  fprintf (stderr, "round trip%s: %s\n", gap_us ? ", buffers apart" : "", c->label);
  static const int sides[2] = { 4, 32 }; /* RGBA: 64 B, 4 KiB */
  const int iters = gap_us ? (quick ? 500 : 5000) : quick ? 2000 : 20000, warm = gap_us ? 50 : 500;
  gint64 *t = g_new (gint64, iters), *in = g_new (gint64, iters);

  for (int s = 0; s < 2; s++) {
    GstAppSrc *src;
    GstAppSink *sink;
    GstElement *p = make (c, sides[s], &src, &sink);
    gsize size = (gsize) sides[s] * sides[s] * 4;
    if (!p) {
      printf ("| %-28s | %5zu B | skipped: the pipeline does not start here |\n", c->label, size);
      c->ok = FALSE;
      break;
    }
    gboolean bad = FALSE;
    const char *why = "";
    Stamps st = { 0, 0 };
    add_probe (GST_ELEMENT (src), "src", &st.left);
    add_probe (GST_ELEMENT (sink), "sink", &st.reached);
    for (int i = -warm; i < iters; i++) {
      if (gap_us)
        g_usleep (gap_us);
      GstBuffer *b = gst_buffer_new_allocate (NULL, size, NULL);
      gst_buffer_memset (b, 0, (guint8) i, size);
      GST_BUFFER_PTS (b) = (GstClockTime) (i + warm) * GST_MSECOND;
      gint64 n0 = gst_util_get_timestamp ();
      GstFlowReturn fr = gst_app_src_push_buffer (src, b);
      if (fr != GST_FLOW_OK) {
        why = gst_flow_get_name (fr);
        bad = TRUE;
        break;
      }
      GstSample *sample = gst_app_sink_try_pull_sample (sink, 10 * GST_SECOND);
      gint64 n1 = gst_util_get_timestamp ();
      if (!sample) {
        GstMessage *err = gst_bus_pop_filtered (GST_ELEMENT_BUS (p), GST_MESSAGE_ERROR);
        if (err) {
          GError *e = NULL;
          gst_message_parse_error (err, &e, NULL);
          fprintf (stderr, "%s: %s\n", c->label, e->message);
          g_error_free (e);
          gst_message_unref (err);
        }
        why = err ? "an error on the bus" : "no buffer came out within 10 s";
        bad = TRUE;
        break;
      }
      /* the first and the last byte of the frame, wherever its stride puts them */
      GstVideoInfo vi;
      GstVideoFrame f;
      GstBuffer *ob = gst_sample_get_buffer (sample);
      if (gst_video_info_from_caps (&vi, gst_sample_get_caps (sample))
          && gst_video_frame_map (&f, &vi, ob, GST_MAP_READ)) {
        const guint8 *d = GST_VIDEO_FRAME_PLANE_DATA (&f, 0);
        gsize last = (gsize) (sides[s] - 1) * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0) + sides[s] * 4 - 1;
        if (d[0] != (guint8) i || d[last] != (guint8) i) {
          why = "wrong data came out";
          bad = TRUE;
        }
        gst_video_frame_unmap (&f);
      } else {
        why = "an output buffer that is not the frame";
        bad = TRUE;
      }
      gst_sample_unref (sample);
      if (i >= 0) {
        t[i] = n1 - n0;
        /* the sample came out after both probes ran (the queue's lock orders them before) */
        in[i] = __atomic_load_n (&st.reached, __ATOMIC_ACQUIRE) - __atomic_load_n (&st.left, __ATOMIC_ACQUIRE);
      }
    }
    /* the round trip from H2K to K2H as the first actor saw it (its stats; not for other elements) */
    gchar rtt[32] = "-";
    GstPad *sp = gst_element_get_static_pad (GST_ELEMENT (src), "src");
    GstPad *peer = gst_pad_get_peer (sp);
    GstElement *first = peer ? gst_pad_get_parent_element (peer) : NULL;
    if (first && g_object_class_find_property (G_OBJECT_GET_CLASS (first), "stats")) {
      GstStructure *stats = NULL;
      double v;
      g_object_get (first, "stats", &stats, NULL);
      if (stats && gst_structure_get_double (stats, "rtt-p50-us", &v))
        g_snprintf (rtt, sizeof rtt, "%.2f", v);
      if (stats)
        gst_structure_free (stats);
    }
    g_clear_object (&first);
    g_clear_object (&peer);
    gst_object_unref (sp);
    const char *got;
    if (!bad && c->want_link && !link_is (p, c->want_link, &got)) {
      why = got; /* the chain took another path than its label says */
      bad = TRUE;
    }
    destroy (p, src, sink);
    if (bad) {
      printf ("| %-28s | %5zu B | FAILED: %s |\n", c->label, size, why);
      c->ok = FALSE;
      continue;
    }
    qsort (t, iters, sizeof *t, cmp_i64);
    qsort (in, iters, sizeof *in, cmp_i64);
    (gap_us ? c->apart_rt_median : c->rt_median)[s] = t[iters / 2] / 1e3;
    (gap_us ? c->apart_in_median : c->in_median)[s] = in[iters / 2] / 1e3;
    printf ("| %-28s | %5zu B | %8.2f | %8.2f | %8.2f | %8.2f | %8.2f | %8.2f | %8s |\n", c->label, size,
        t[0] / 1e3, t[iters / 2] / 1e3, t[iters * 99 / 100] / 1e3, in[0] / 1e3, in[iters / 2] / 1e3,
        in[iters * 99 / 100] / 1e3, rtt);
  }
  g_free (t);
  g_free (in);
}

typedef struct {
  GstAppSink *sink;
  guint64 n, bytes;
} Puller;

static gpointer
pull_all (gpointer data)
{
  Puller *p = data;
  for (guint64 i = 0; i < p->n; i++) {
    GstSample *s = gst_app_sink_try_pull_sample (p->sink, 30 * GST_SECOND);
    if (!s)
      break;
    p->bytes += gst_buffer_get_size (gst_sample_get_buffer (s));
    gst_sample_unref (s);
  }
  return NULL;
}

/* count frames of side x side RGBA pushed as fast as appsrc takes them while another thread pulls:
 * prints a row, returns buffers per second (0 if it could not run). */
static double
stream_one (const Config *c, int side, guint64 count)
{
  GstAppSrc *src;
  GstAppSink *sink;
  GstElement *p = make (c, side, &src, &sink);
  gsize size = (gsize) side * side * 4;
  if (!p)
    return 0;
  g_object_set (src, "max-bytes", (guint64) MAX (size * 64, 1 << 20), NULL);
  GstBuffer *b = gst_buffer_new_allocate (NULL, size, NULL);
  gst_buffer_memset (b, 0, 0x5a, size);
  Puller pl = { sink, count, 0 };
  gint64 t0 = gst_util_get_timestamp ();
  GThread *th = g_thread_new ("pull", pull_all, &pl);
  for (guint64 i = 0; i < count; i++) {
    /* the same memory each time (upstream's cost is not what is measured) */
    GstBuffer *ob = gst_buffer_copy (b);
    GST_BUFFER_PTS (ob) = i * GST_MSECOND;
    if (gst_app_src_push_buffer (src, ob) != GST_FLOW_OK)
      break;
  }
  g_thread_join (th);
  double secs = (gst_util_get_timestamp () - t0) / 1e9;
  double rate = pl.bytes / (double) size / secs;
  printf ("| %-28s | stream %8zu B | %10.0f buf/s | %7.2f GB/s |%s\n", c->label, size, rate,
      pl.bytes / secs / 1e9, pl.bytes == count * size ? "" : " INCOMPLETE");
  gst_buffer_unref (b);
  destroy (p, src, sink);
  return pl.bytes == count * size ? rate : 0;
}

static void
bench_streaming (const Config *c)
{
  fprintf (stderr, "streaming: %s\n", c->label);
  static const int sides[4] = { 4, 128, 512, 1448 }; /* RGBA: 64 B, 64 KiB, 1 MiB, ~8 MiB */
  const guint64 counts[4] = { quick ? 50000 : 500000, quick ? 5000 : 40000, quick ? 500 : 4000,
    quick ? 60 : 400 };

  for (int s = 0; s < 4; s++)
    stream_one (c, sides[s], counts[s]);
}

/* Chains of n echo actors on one backend, linked on the device, through an inbox in host memory
 * (staged: the path between two GPUs without peer access), and through the host. */
static void
bench_chains (const char *backend)
{
  enum { LINKS = 3 };
  static const int lens[4] = { 1, 2, 4, 8 };
  static const char *links[LINKS] = { "auto", "staged", "host" };
  static const char *paths[LINKS] = { "device", "staged", "host" };
  Config c[LINKS][4];
  double thr[LINKS][4][2];
  gchar *labels[LINKS][4], *middles[LINKS][4];

  printf ("\n| chain (%s)                   | buffer  | min us   | median us | p99 us  | middle: min us | median us | p99 us | actor rtt p50 us |\n"
          "|---|---|---|---|---|---|---|---|---|\n",
      backend);
  for (int l = 0; l < LINKS; l++)
    for (int k = 0; k < 4; k++) {
      labels[l][k] = middles[l][k] = NULL;
      c[l][k] = (Config) { .ok = FALSE };
      if (!selected (only_links, links[l]))
        continue;
      GString *m = g_string_new ("");
      for (int i = 0; i < lens[k]; i++)
        g_string_append_printf (m, "%srkactor name=r%d kernel=echo backend=%s link=%s ring-size=64",
            i ? " ! " : "", i, backend, links[l]);
      middles[l][k] = g_string_free (m, FALSE);
      labels[l][k] = g_strdup_printf ("%d x echo, link=%s", lens[k], links[l]);
      c[l][k] = (Config) { .label = labels[l][k], .middle = middles[l][k], .ok = TRUE,
        .want_link = lens[k] > 1 ? paths[l] : NULL };
      bench_round_trip (&c[l][k], 0);
    }
  if (!round_trips_only)
    printf ("\n| chain (%s)                   | what | rate | bandwidth |\n|---|---|---|---|\n", backend);
  for (int l = 0; l < LINKS; l++)
    for (int k = 0; k < 4; k++) {
      thr[l][k][0] = thr[l][k][1] = 0;
      if (!c[l][k].ok || round_trips_only)
        continue;
      thr[l][k][0] = stream_one (&c[l][k], 128, quick ? 3000 : 20000);
      thr[l][k][1] = stream_one (&c[l][k], 512, quick ? 300 : 2000);
    }
  printf ("\n| %s: hops | link | added per hop, median 64 B (us) | 4 KiB (us) | in the middle, 64 B (us) | 4 KiB (us) "
          "| chain / single, 64 KiB throughput | 1 MiB |\n|---|---|---|---|---|---|---|---|\n",
      backend);
  for (int l = 0; l < LINKS; l++)
    for (int k = 1; k < 4; k++)
      if (c[l][k].ok && c[l][0].ok)
        printf ("| %d | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", lens[k] - 1, links[l],
            (c[l][k].rt_median[0] - c[l][0].rt_median[0]) / (lens[k] - 1),
            (c[l][k].rt_median[1] - c[l][0].rt_median[1]) / (lens[k] - 1),
            (c[l][k].in_median[0] - c[l][0].in_median[0]) / (lens[k] - 1),
            (c[l][k].in_median[1] - c[l][0].in_median[1]) / (lens[k] - 1),
            thr[l][0][0] > 0 ? thr[l][k][0] / thr[l][0][0] : 0, thr[l][0][1] > 0 ? thr[l][k][1] / thr[l][0][1] : 0);
  for (int k = 1; k < 4; k++) {
    if (c[0][k].ok && c[2][k].ok)
      printf ("%s chain of %d: round trip host / device links (median): %.2fx (64 B), %.2fx (4 KiB)\n",
          backend, lens[k], c[2][k].rt_median[0] / c[0][k].rt_median[0],
          c[2][k].rt_median[1] / c[0][k].rt_median[1]);
    if (c[0][k].ok && c[1][k].ok)
      printf ("%s chain of %d: round trip staged / device links (median): %.2fx (64 B), %.2fx (4 KiB)\n",
          backend, lens[k], c[1][k].rt_median[0] / c[0][k].rt_median[0],
          c[1][k].rt_median[1] / c[0][k].rt_median[1]);
  }
  for (int l = 0; l < LINKS; l++)
    for (int k = 0; k < 4; k++) {
      g_free (labels[l][k]);
      g_free (middles[l][k]);
    }
}

/* A pipeline `appsrc ! middle ! fakesink` whose output is counted at the sink, buffers and bytes (lists
 * too): appsink's pulling of lists raised criticals in GStreamer 1.22.0 here. */
typedef struct {
  GstElement *p;
  GstAppSrc *src;
  GstPad *pad;
  GstBus *bus;
  guint64 buffers, bytes;
  gint64 t0;
} Counted;

static GstPadProbeReturn
count_output (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Counted *k = data;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    k->buffers += gst_buffer_list_length (list);
    k->bytes += gst_buffer_list_calculate_size (list);
  } else {
    k->buffers += 1;
    k->bytes += gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info));
  }
  return GST_PAD_PROBE_OK;
}

/* Start the pipeline (RGBA frames of side x side), the clock running. FALSE if it does not parse. */
static gboolean
counted_start (Counted *k, const char *middle, int side)
{
  gchar *desc = g_strdup_printf ("appsrc name=src is-live=false format=time block=true max-bytes=1048576 "
                                 "caps=video/x-raw,format=RGBA,width=%d,height=%d,framerate=0/1 "
                                 "! %s ! fakesink name=sink sync=false", side, side, middle);
  memset (k, 0, sizeof *k);
  k->p = gst_parse_launch (desc, NULL);
  g_free (desc);
  if (!k->p)
    return FALSE;
  k->src = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (k->p), "src"));
  GstElement *sink = gst_bin_get_by_name (GST_BIN (k->p), "sink");
  k->pad = gst_element_get_static_pad (sink, "sink");
  gst_object_unref (sink);
  gst_pad_add_probe (k->pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, count_output,
      k, NULL);
  k->bus = gst_element_get_bus (k->p);
  gst_element_set_state (k->p, GST_STATE_PLAYING);
  k->t0 = gst_util_get_timestamp ();
  return TRUE;
}

/* End the stream, wait for it to come out, and tear down; returns the seconds it all took. */
static double
counted_finish (Counted *k)
{
  gst_app_src_end_of_stream (k->src);
  GstMessage *m = gst_bus_timed_pop_filtered (k->bus, 120 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  double secs = (gst_util_get_timestamp () - k->t0) / 1e9;
  if (m)
    gst_message_unref (m);
  gst_element_set_state (k->p, GST_STATE_NULL);
  gst_object_unref (k->bus);
  gst_object_unref (k->pad);
  gst_object_unref (k->src);
  gst_object_unref (k->p);
  return secs;
}

/* 64-byte buffers in lists of 64, in and out: what the pad traffic costs when it is batched. */
static void
bench_lists (const Config *c)
{
  const int lists = quick ? 2000 : 20000, per = 64;
  gchar *middle = g_str_has_prefix (c->middle, "rkactor")
      ? g_strdup_printf ("%s buffer-lists=true", c->middle) : g_strdup (c->middle);
  Counted k;
  gboolean started = counted_start (&k, middle, 4);
  g_free (middle);
  if (!started)
    return;
  GstBuffer *b = gst_buffer_new_allocate (NULL, 64, NULL);
  gst_buffer_memset (b, 0, 0x5a, 64);
  for (int l = 0; l < lists; l++) {
    GstBufferList *list = gst_buffer_list_new_sized (per);
    for (int i = 0; i < per; i++) {
      GstBuffer *ob = gst_buffer_copy (b);
      GST_BUFFER_PTS (ob) = ((guint64) l * per + i) * GST_USECOND;
      gst_buffer_list_add (list, ob);
    }
    if (gst_app_src_push_buffer_list (k.src, list) != GST_FLOW_OK)
      break;
  }
  double secs = counted_finish (&k);
  printf ("| %-28s | 64 B in lists of 64 | %10.0f buf/s |%s\n", c->label, k.buffers / secs,
      k.buffers == (guint64) lists * per ? "" : " INCOMPLETE");
  gst_buffer_unref (b);
}

/* 64-byte records packed into 64 KiB buffers: rkactor with message-size=64 sends each record as its own
 * message on the ring (its own record, its own answer) and gathers the answers of a buffer into one
 * output buffer. Records per second counted in bytes at the sink. */
static void
bench_messages (const Config *c)
{
  const int buffers = quick ? 500 : 5000, per = 1024, msg = 64;
  gchar *middle = g_str_has_prefix (c->middle, "rkactor")
      ? g_strdup_printf ("%s message-size=%d ring-size=2048", c->middle, msg) : g_strdup (c->middle);
  Counted k;
  gboolean started = counted_start (&k, middle, 128);
  g_free (middle);
  if (!started)
    return;
  GstBuffer *b = gst_buffer_new_allocate (NULL, (gsize) per * msg, NULL);
  gst_buffer_memset (b, 0, 0x5a, (gsize) per * msg);
  for (int i = 0; i < buffers; i++) {
    GstBuffer *ob = gst_buffer_copy_deep (b);
    GST_BUFFER_PTS (ob) = (guint64) i * GST_MSECOND;
    if (gst_app_src_push_buffer (k.src, ob) != GST_FLOW_OK)
      break;
  }
  double secs = counted_finish (&k);
  printf ("| %-28s | 64 B records in 64 KiB buffers | %10.0f records/s |%s\n", c->label,
      k.bytes / msg / secs, k.bytes == (guint64) buffers * per * msg ? "" : " INCOMPLETE");
  gst_buffer_unref (b);
}

static void
bench_source (const Config *c)
{
  fprintf (stderr, "source: %s\n", c->label);
  const int frames = quick ? 100 : 500;
  gchar *desc = g_strdup_printf ("videotestsrc num-buffers=%d pattern=black "
                                 "! video/x-raw,format=RGBA,width=1448,height=1448,framerate=0/1 "
                                 "! %s ! fakesink sync=false", frames, c->middle);
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);
  g_free (desc);
  if (!p || err) {
    g_clear_error (&err);
    return;
  }
  GstBus *bus = gst_element_get_bus (p);
  gint64 t0 = gst_util_get_timestamp ();
  gst_element_set_state (p, GST_STATE_PLAYING);
  GstMessage *m = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  double secs = (gst_util_get_timestamp () - t0) / 1e9;
  gboolean ok = m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS;
  if (m)
    gst_message_unref (m);
  guint64 in_place = 0;
  GstElement *actor = NULL;
  GstIterator *it = gst_bin_iterate_elements (GST_BIN (p));
  GValue v = G_VALUE_INIT;
  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&v);
    if (g_str_has_prefix (GST_OBJECT_NAME (e), "rkactor"))
      actor = gst_object_ref (e);
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  if (actor) {
    GstStructure *st = NULL;
    g_object_get (actor, "stats", &st, NULL);
    gst_structure_get_uint64 (st, "buffers-in-place", &in_place);
    gst_structure_free (st);
    gst_object_unref (actor);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (p);
  double bytes = (double) frames * 1448 * 1448 * 4;
  printf ("| %-28s | videotestsrc 8 MiB frames | %8.0f frames/s | %7.2f GB/s | in place %" G_GUINT64_FORMAT
      "/%d |%s\n", c->label, frames / secs, bytes / secs / 1e9, in_place, frames, ok ? "" : " FAILED");
}

int
main (int argc, char **argv)
{
  Config configs[] = {
    { "identity", "identity" },
    { "rkactor backend=cpu", "rkactor kernel=echo backend=cpu" },
    { "rkactor backend=cuda", "rkactor kernel=echo backend=cuda" },
    { "rkactor backend=cuda launch", "rkactor kernel=echo backend=cuda mode=launch" },
    { "rkactor backend=vulkan", "rkactor kernel=echo backend=vulkan" },
    /* the caps filter keeps them from agreeing on system memory, where they would do nothing */
    { "cudaupload ! cudadownload", "cudaupload ! video/x-raw(memory:CUDAMemory) ! cudadownload" },
  };
  const int n = G_N_ELEMENTS (configs);

  gst_init (&argc, &argv);
  setvbuf (stdout, NULL, _IOLBF, 0); /* every row out as soon as measured, even if killed later */
  gboolean chains = FALSE;
  for (int i = 1; i < argc; i++) {
    quick |= strcmp (argv[i], "--quick") == 0;
    round_trips_only |= strcmp (argv[i], "--round-trips") == 0;
    chains |= strcmp (argv[i], "--chains") == 0;
    if (i + 1 < argc && strcmp (argv[i], "--only") == 0)
      only = argv[i + 1];
    if (i + 1 < argc && strcmp (argv[i], "--links") == 0)
      only_links = argv[i + 1];
  }
  if (chains) {
    /* all backends, or those named after --chains */
    const gchar *backends = NULL;
    for (int i = 1; i + 1 < argc; i++)
      if (strcmp (argv[i], "--chains") == 0 && argv[i + 1][0] != '-')
        backends = argv[i + 1];
    static const gchar *names[] = { "cpu", "cuda", "vulkan" };
    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      if (!backends || strstr (backends, names[i]))
        bench_chains (names[i]);
    gst_deinit ();
    return 0;
  }
  for (int i = 0; i < n; i++)
    configs[i].ok = selected (only, configs[i].label);

  printf ("| pipeline middle              | buffer  | min us   | median us | p99 us  | middle: min us | median us | p99 us | actor rtt p50 us |\n");
  printf ("|---|---|---|---|---|---|---|---|---|\n");
  for (int i = 0; i < n; i++)
    if (configs[i].ok)
      bench_round_trip (&configs[i], 0);

  if (round_trips_only) {
    gst_deinit ();
    return 0;
  }

  printf ("\nBuffers %d us apart (as from a live source), the same columns:\n\n", APART_US);
  printf ("| pipeline middle              | buffer  | min us   | median us | p99 us  | middle: min us | median us | p99 us | actor rtt p50 us |\n");
  printf ("|---|---|---|---|---|---|---|---|---|\n");
  for (int i = 0; i < n; i++)
    if (configs[i].ok)
      bench_round_trip (&configs[i], APART_US);

  printf ("\n| pipeline middle              | what | rate | bandwidth |\n|---|---|---|---|\n");
  for (int i = 0; i < n; i++)
    if (configs[i].ok)
      bench_streaming (&configs[i]);

  printf ("\n| pipeline middle              | what | rate |\n|---|---|---|\n");
  for (int i = 0; i < 4; i++)
    if (configs[i].ok)
      bench_lists (&configs[i]);
  for (int i = 0; i < 4; i++)
    if (configs[i].ok)
      bench_messages (&configs[i]);

  printf ("\n| pipeline middle              | source | rate | bandwidth | in place |\n|---|---|---|---|---|\n");
  for (int i = 0; i < 4; i++)
    if (configs[i].ok)
      bench_source (&configs[i]);

  if (configs[2].ok && configs[3].ok)
    printf ("\nround trip, rkactor launch / persistent (median): %.2fx (64 B), %.2fx (4 KiB)\n",
        configs[3].rt_median[0] / configs[2].rt_median[0],
        configs[3].rt_median[1] / configs[2].rt_median[1]);
  if (configs[2].ok && configs[3].ok)
    printf ("in the middle, rkactor launch / persistent (median): %.2fx (64 B), %.2fx (4 KiB)\n",
        configs[3].in_median[0] / configs[2].in_median[0],
        configs[3].in_median[1] / configs[2].in_median[1]);
  if (configs[2].ok && configs[3].ok)
    printf ("buffers apart, in the middle, rkactor launch / persistent (median): %.2fx (64 B), %.2fx (4 KiB)\n",
        configs[3].apart_in_median[0] / configs[2].apart_in_median[0],
        configs[3].apart_in_median[1] / configs[2].apart_in_median[1]);
  if (configs[2].ok && configs[5].ok)
    printf ("round trip, cudaupload!cudadownload / rkactor persistent (median): %.2fx (64 B), "
            "%.2fx (4 KiB)\n",
        configs[5].rt_median[0] / configs[2].rt_median[0],
        configs[5].rt_median[1] / configs[2].rt_median[1]);
  gst_deinit ();
  return 0;
}
