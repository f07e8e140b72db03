/* K2K links between rkactor elements on the CPU backend (RKLINKS_BACKEND=cuda or vulkan: on those): chains of 1, 2, 4 and 8 actors give the
 * composition of the handlers' C references, with the data passed between actors through their inboxes
 * (the stats say so); EOS and a flush travel through a chain with nothing lost or repeated; a slow
 * consumer at the end of a chain of 4 loses nothing over a million buffers; a neighbour that is not an
 * actor, or link=host, keeps the host path and stays correct; link=staged takes the staged path. */
#include <gst/app/app.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <string.h>

#include "gstrkmeta.h"
#include "rk_handlers.h"

#define CAPS "audio/x-raw,format=F32LE,layout=interleaved,rate=48000,channels=1"

typedef struct {
  const rk_handler *h;
  double p[RK_MAX_PARAMS];
} Stage;

static GRand *rng;

/* RKLINKS_BACKEND=cuda runs the same tests on the GPU (the lent machine); CI runs them on the CPU. */
static const gchar *
backend (void)
{
  const gchar *b = g_getenv ("RKLINKS_BACKEND");
  return b ? b : "cpu";
}

static void
random_stage (Stage *st)
{
  static const char *kinds[] = { "stencil", "scale", "echo" };
  st->h = rk_handler_find (kinds[g_rand_int_range (rng, 0, 3)]);
  fail_unless (st->h != NULL);
  rk_handler_default_params (st->h, st->p);
  for (guint k = 0; k < st->h->n_params; k++)
    st->p[k] = g_rand_double_range (rng, -1.5, 1.5);
}

/* "rkactor name=aI backend=cpu kernel=K params=..." for one stage */
static void
append_actor (GString *d, guint i, const Stage *st, const gchar *extra)
{
  g_string_append_printf (d, " ! rkactor name=a%u backend=%s kernel=%s %s", i, backend (),
      st->h->name, extra ? extra : "");
  if (st->h->n_params) {
    g_string_append (d, " params=\"p");
    for (guint k = 0; k < st->h->n_params; k++) {
      gchar num[G_ASCII_DTOSTR_BUF_SIZE];
      g_string_append_printf (d, ",%s=(double)%s", st->h->params[k].name,
          g_ascii_dtostr (num, sizeof num, st->p[k]));
    }
    g_string_append (d, "\"");
  }
}

/* The expected output of a chain for one input: every handler's C code in turn. */
static void
reference (const Stage *st, guint n, const float *x, guint samples, float *y)
{
  float *tmp = g_new (float, samples + 1);
  memcpy (y, x, samples * 4);
  for (guint i = 0; i < n; i++) {
    uint32_t out_len = 0;
    fail_unless_equals_int (st[i].h->process (NULL, st[i].p, (const uint8_t *) y, samples * 4,
                                (uint8_t *) tmp, samples * 4, &out_len), RK_STATUS_OK);
    memcpy (y, tmp, out_len);
  }
  g_free (tmp);
}

static GstStructure *
stats_of (GstElement *p, guint i)
{
  gchar *name = g_strdup_printf ("a%u", i);
  GstElement *e = gst_bin_get_by_name (GST_BIN (p), name);
  GstStructure *s = NULL;
  g_free (name);
  fail_unless (e != NULL);
  g_object_get (e, "stats", &s, NULL);
  gst_object_unref (e);
  return s;
}

static guint64
stat_u64 (const GstStructure *s, const gchar *field)
{
  guint64 v = 0;
  fail_unless (gst_structure_get_uint64 (s, field, &v), "no %s in %" GST_PTR_FORMAT, field, s);
  return v;
}

/* Fail unless out holds the len bytes of floats at want; if not, say where and how they differ. */
static void
check_floats (GstBuffer *out, const void *want, gsize len, guint index, const gchar *desc)
{
  if (gst_buffer_memcmp (out, 0, want, len) == 0)
    return;
  GstMapInfo m;
  guint k = 0;
  fail_unless (gst_buffer_map (out, &m, GST_MAP_READ));
  const float *got = (const float *) m.data, *ref = want;
  while (k < len / 4 && memcmp (&got[k], &ref[k], 4) == 0)
    k++;
  fail ("buffer %u of %s differs from the reference at sample %u of %u: %g, not %g", index, desc, k,
      (guint) (len / 4), k < len / 4 ? got[k] : 0.0, k < len / 4 ? ref[k] : 0.0);
}

/* Push nbuf random arrays through `desc` (appsrc ! ... ! appsink) and check every output against the
 * composition of the references, in order, with its timestamps. Returns the pipeline, still PLAYING
 * after EOS, for its stats. */
static GstElement *
run_chain (const gchar *desc, const Stage *st, guint n, guint nbuf)
{
  GstElement *p = gst_parse_launch (desc, NULL);
  fail_unless (p != NULL, "cannot parse %s", desc);
  GstAppSrc *src = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (p), "src"));
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);

  GPtrArray *want = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (guint b = 0; b < nbuf; b++) {
    guint samples = b % 37 == 5 ? 0 : (guint) g_rand_int_range (rng, 1, 2049);
    float *x = g_new (float, samples + 1), *y = g_new (float, samples + 1);
    for (guint k = 0; k < samples; k++)
      x[k] = (float) g_rand_double_range (rng, -100.0, 100.0);
    reference (st, n, x, samples, y);
    g_ptr_array_add (want, g_bytes_new_take (y, samples * 4));
    GstBuffer *buf = samples ? gst_buffer_new_wrapped (x, samples * 4) : gst_buffer_new ();
    if (!samples)
      g_free (x);
    GST_BUFFER_PTS (buf) = b * GST_MSECOND;
    GST_BUFFER_DURATION (buf) = GST_MSECOND;
    GST_BUFFER_OFFSET (buf) = b;
    fail_unless_equals_int (gst_app_src_push_buffer (src, buf), GST_FLOW_OK);
  }
  gst_app_src_end_of_stream (src);

  guint got = 0;
  for (;;) {
    GstSample *s = gst_app_sink_pull_sample (sink);
    if (!s)
      break;
    GstBuffer *b = gst_sample_get_buffer (s);
    fail_unless (got < nbuf, "more buffers out than in");
    GBytes *w = g_ptr_array_index (want, got);
    gsize wlen;
    const void *wd = g_bytes_get_data (w, &wlen);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), got * GST_MSECOND);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (b), GST_MSECOND);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), got);
    fail_unless_equals_uint64 (gst_buffer_get_size (b), wlen);
    check_floats (b, wd, wlen, got, desc);
    fail_unless (gst_buffer_get_meta (b, g_type_from_name ("GstRkHlcMetaAPI")) != NULL);
    got++;
    gst_sample_unref (s);
  }
  fail_unless (gst_app_sink_is_eos (sink));
  fail_unless_equals_int (got, nbuf);
  g_ptr_array_unref (want);
  gst_object_unref (src);
  gst_object_unref (sink);
  return p;
}

static void
stop (GstElement *p)
{
  fail_unless_equals_int (gst_element_set_state (p, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (p);
}

/* Each actor of a chain of n reports how its data came and left (hop[i]: the path between actor i and
 * i + 1), and what went through its inbox. */
static void
check_paths (GstElement *p, guint n, guint nbuf, const gchar *const *hop)
{
  for (guint i = 0; i < n; i++) {
    GstStructure *s = stats_of (p, i);
    const gchar *path_in = i > 0 ? hop[i - 1] : "host", *path_out = i + 1 < n ? hop[i] : "host";
    const gboolean in = strcmp (path_in, "host") != 0, out = strcmp (path_out, "host") != 0;
    fail_unless_equals_string (gst_structure_get_string (s, "link-in"), path_in);
    fail_unless_equals_string (gst_structure_get_string (s, "link-out"), path_out);
    fail_unless_equals_uint64 (stat_u64 (s, "routed-in"), in ? nbuf : 0);
    fail_unless_equals_uint64 (stat_u64 (s, "routed-out"), out ? nbuf : 0);
    fail_unless_equals_uint64 (stat_u64 (s, "tokens-in"), in ? nbuf : 0);
    fail_unless_equals_uint64 (stat_u64 (s, "tokens-out"), out ? nbuf : 0);
    fail_unless_equals_uint64 (stat_u64 (s, "skipped-in"), 0);
    fail_unless_equals_uint64 (stat_u64 (s, "buffers-in"), nbuf);
    gst_structure_free (s);
  }
}

static void
check_links (GstElement *p, guint n, guint nbuf, gboolean device)
{
  const gchar *hop[8];
  for (guint i = 0; i < G_N_ELEMENTS (hop); i++)
    hop[i] = device ? "device" : "host";
  check_paths (p, n, nbuf, hop);
}

GST_START_TEST (test_chains)
{
  const guint nbuf = 400;
  for (guint n = 1; n <= 8; n *= 2) {
    Stage st[8];
    GString *d = g_string_new ("appsrc name=src format=time caps=" CAPS);
    for (guint i = 0; i < n; i++) {
      random_stage (&st[i]);
      /* small rings and inboxes: producers wait for room in their downstream inbox */
      append_actor (d, i, &st[i], "ring-size=8 arena-size=65536");
    }
    g_string_append (d, " ! appsink name=sink sync=false");
    GST_INFO ("chain of %u: %s", n, d->str);
    GstElement *p = run_chain (d->str, st, n, nbuf);
    check_links (p, n, nbuf, TRUE);
    stop (p);
    g_string_free (d, TRUE);
  }
}
GST_END_TEST;

/* Small buffers one at a time, each pulled before the next is pushed, through a chain of 3: every
 * record comes alone, as at the start of a stream or from a live source, and the output stays right.
 * Where the backend gives its inboxes a low-latency mirror (CUDA: rk_route.ll_addr), the routes that
 * the elements hand each other carry it, so the actors downstream take most such records from the
 * mirror (stats: routed-in-fast). */
/* The HLC stamp of the buffer that last went through a pad (a pad probe's data: a guint64). */
static GstPadProbeReturn
note_hlc (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  const GstRkHlcMeta *m = (const GstRkHlcMeta *) gst_buffer_get_meta (GST_PAD_PROBE_INFO_BUFFER (info),
      g_type_from_name ("GstRkHlcMetaAPI"));
  __atomic_store_n ((guint64 *) data, m ? m->hlc : 0, __ATOMIC_RELEASE);
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_lone_buffers)
{
  const guint n = 3, nbuf = 300, samples = 16; /* 64-byte buffers */
  guint64 last_hlc = 0, token_hlc = 0;
  Stage st[3];
  GString *d = g_string_new ("appsrc name=src format=time caps=" CAPS);
  for (guint i = 0; i < n; i++) {
    random_stage (&st[i]);
    append_actor (d, i, &st[i], NULL);
  }
  g_string_append (d, " ! appsink name=sink sync=false");
  GstElement *p = gst_parse_launch (d->str, NULL);
  fail_unless (p != NULL, "cannot parse %s", d->str);
  GstAppSrc *src = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (p), "src"));
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  gchar *last_name = g_strdup_printf ("a%u", n - 1);
  GstElement *last = gst_bin_get_by_name (GST_BIN (p), last_name);
  GstPad *last_sink = gst_element_get_static_pad (last, "sink");
  gst_pad_add_probe (last_sink, GST_PAD_PROBE_TYPE_BUFFER, note_hlc, &token_hlc, NULL);
  gst_object_unref (last_sink);
  gst_object_unref (last);
  g_free (last_name);
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  for (guint b = 0; b < nbuf; b++) {
    float *x = g_new (float, samples), y[16];
    for (guint k = 0; k < samples; k++)
      x[k] = (float) g_rand_double_range (rng, -100.0, 100.0);
    reference (st, n, x, samples, y);
    GstBuffer *buf = gst_buffer_new_wrapped (x, samples * 4);
    GST_BUFFER_PTS (buf) = b * GST_MSECOND;
    fail_unless_equals_int (gst_app_src_push_buffer (src, buf), GST_FLOW_OK);
    GstSample *s = gst_app_sink_try_pull_sample (sink, 10 * GST_SECOND);
    fail_unless (s != NULL, "buffer %u did not come out", b);
    GstBuffer *out = gst_sample_get_buffer (s);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), b * GST_MSECOND);
    fail_unless_equals_uint64 (gst_buffer_get_size (out), samples * 4);
    check_floats (out, y, samples * 4, b, d->str);
    fail_if (gst_buffer_get_meta (out, g_type_from_name ("GstRkLinkMetaAPI")) != NULL,
        "result %u still says where it was in a K2K link", b);
    /* stamped by the last actor's answer: later than the token that brought its record, and than
     * the result before */
    const GstRkHlcMeta *m = (const GstRkHlcMeta *) gst_buffer_get_meta (out,
        g_type_from_name ("GstRkHlcMetaAPI"));
    fail_unless (m != NULL, "result %u has no HLC meta", b);
    fail_unless (m->hlc > last_hlc && m->hlc > __atomic_load_n (&token_hlc, __ATOMIC_ACQUIRE),
        "result %u stamped %" G_GUINT64_FORMAT ": not after the result before (%" G_GUINT64_FORMAT
        ") and its token (%" G_GUINT64_FORMAT ")", b, m->hlc, last_hlc, token_hlc);
    last_hlc = m->hlc;
    gst_sample_unref (s);
  }
  /* the stats once EOS is through: a result may reach the sink before the elements upstream have
   * counted the token that brought it (the last actor answers in their streaming thread) */
  gst_app_src_end_of_stream (src);
  fail_if (gst_app_sink_try_pull_sample (sink, 10 * GST_SECOND) != NULL, "a buffer after the last");
  fail_unless (gst_app_sink_is_eos (sink));
  check_links (p, n, nbuf, TRUE);
  const gboolean mirror = strcmp (backend (), "cuda") == 0;
  for (guint i = 1; i < n; i++) {
    GstStructure *s = stats_of (p, i);
    const guint64 fast = stat_u64 (s, "routed-in-fast");
    GST_INFO ("actor %u took %" G_GUINT64_FORMAT " of %u records from its inbox's mirror", i, fast, nbuf);
    if (mirror)
      fail_unless (fast >= nbuf / 2, "actor %u took %" G_GUINT64_FORMAT " of %u lone records from its "
          "inbox's mirror: does its route carry the mirror?", i, fast, nbuf);
    /* the last one's results went out in the tokens that came for them */
    if (i == n - 1)
      fail_unless_equals_uint64 (stat_u64 (s, "buffers-out-reused"), nbuf);
    gst_structure_free (s);
  }
  gst_object_unref (src);
  gst_object_unref (sink);
  stop (p);
  g_string_free (d, TRUE);
}
GST_END_TEST;

/* The first actor's parameters change all the time from another thread while lone buffers go
 * through two linked scale actors: the commands that carries are sent while a token is being pushed
 * (its record's item is queued after the push, unless such a command comes first), and every result
 * is its input times one of the scales the first actor was given. */
typedef struct {
  GstElement *e;
  gint stop;
} Setter;

static gpointer
set_params (gpointer data)
{
  Setter *t = data;
  for (guint i = 0; !g_atomic_int_get (&t->stop); i++) {
    GstStructure *s = gst_structure_new ("p", "a", G_TYPE_DOUBLE, (gdouble) (1 + i % 3), "b",
        G_TYPE_DOUBLE, 0.0, NULL);
    g_object_set (t->e, "params", s, NULL);
    gst_structure_free (s);
    g_usleep (20);
  }
  return NULL;
}

GST_START_TEST (test_params_while_pushing)
{
  const guint nbuf = 2000, samples = 16;
  gchar *desc = g_strdup_printf ("appsrc name=src format=time caps=" CAPS " ! rkactor name=a0 "
      "backend=%s kernel=scale ! rkactor name=a1 backend=%s kernel=scale ! appsink name=sink "
      "sync=false", backend (), backend ());
  GstElement *p = gst_parse_launch (desc, NULL);
  fail_unless (p != NULL, "cannot parse %s", desc);
  GstAppSrc *src = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (p), "src"));
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  Setter t = { gst_bin_get_by_name (GST_BIN (p), "a0"), 0 };
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  GThread *thread = g_thread_new ("params", set_params, &t);
  guint scaled[4] = { 0 };
  for (guint b = 0; b < nbuf; b++) {
    float x[16];
    for (guint k = 0; k < samples; k++)
      x[k] = (float) g_rand_int_range (rng, 1, 1000); /* times 1, 2 or 3 exactly */
    GstBuffer *buf = gst_buffer_new_memdup (x, sizeof x);
    GST_BUFFER_PTS (buf) = b * GST_MSECOND;
    fail_unless_equals_int (gst_app_src_push_buffer (src, buf), GST_FLOW_OK);
    GstSample *s = gst_app_sink_try_pull_sample (sink, 10 * GST_SECOND);
    fail_unless (s != NULL, "buffer %u did not come out", b);
    GstBuffer *out = gst_sample_get_buffer (s);
    float y[16];
    fail_unless_equals_uint64 (gst_buffer_extract (out, 0, y, sizeof y), sizeof y);
    const float a = y[0] / x[0];
    fail_unless (a == 1.0f || a == 2.0f || a == 3.0f, "buffer %u scaled by %g", b, a);
    for (guint k = 0; k < samples; k++)
      fail_unless (y[k] == a * x[k], "buffer %u, sample %u: %g, not %g", b, k, y[k], a * x[k]);
    scaled[(guint) a]++;
    gst_sample_unref (s);
  }
  g_atomic_int_set (&t.stop, 1);
  g_thread_join (thread);
  gst_app_src_end_of_stream (src);
  fail_if (gst_app_sink_try_pull_sample (sink, 10 * GST_SECOND) != NULL, "a buffer after the last");
  GstStructure *s0 = stats_of (p, 0);
  GST_INFO ("scaled by 1, 2, 3: %u, %u, %u; commands %" G_GUINT64_FORMAT, scaled[1], scaled[2],
      scaled[3], stat_u64 (s0, "commands"));
  fail_unless (stat_u64 (s0, "commands") > nbuf / 4, "too few parameter changes reached the actor");
  gst_structure_free (s0);
  check_links (p, 2, nbuf, TRUE);
  gst_object_unref (t.e);
  gst_object_unref (src);
  gst_object_unref (sink);
  stop (p);
  g_free (desc);
}
GST_END_TEST;

/* link=host on either side, or any element between two actors, keeps the host path, and stays right. */
GST_START_TEST (test_host_paths)
{
  const gchar *between[] = { "identity", "queue", NULL };
  const guint nbuf = 1000;
  Stage st[2];
  random_stage (&st[0]);
  random_stage (&st[1]);

  for (guint side = 0; side < 2; side++) {
    GString *d = g_string_new ("appsrc name=src format=time caps=" CAPS);
    append_actor (d, 0, &st[0], side == 0 ? "link=host" : NULL);
    append_actor (d, 1, &st[1], side == 1 ? "link=host" : NULL);
    g_string_append (d, " ! appsink name=sink sync=false");
    GstElement *p = run_chain (d->str, st, 2, nbuf);
    check_links (p, 2, nbuf, FALSE);
    stop (p);
    g_string_free (d, TRUE);
  }
  for (guint k = 0; between[k]; k++) {
    GString *d = g_string_new ("appsrc name=src format=time caps=" CAPS);
    append_actor (d, 0, &st[0], NULL);
    g_string_append_printf (d, " ! %s", between[k]);
    append_actor (d, 1, &st[1], NULL);
    g_string_append (d, " ! appsink name=sink sync=false");
    GstElement *p = run_chain (d->str, st, 2, nbuf);
    check_links (p, 2, nbuf, FALSE);
    stop (p);
    g_string_free (d, TRUE);
  }
}
GST_END_TEST;

/* link=staged on either side of a hop takes it through an inbox in host memory, where the backend has
 * that path (CPU, CUDA); the other hops stay on the device. A backend without it (Vulkan) keeps the
 * host path there. The output is right either way. */
GST_START_TEST (test_staged_paths)
{
  const guint nbuf = 300, n = 4;
  const gboolean has_staged = strcmp (backend (), "vulkan") != 0;
  for (guint round = 0; round < 3; round++) {
    Stage st[4];
    gboolean staged[4];
    const gchar *hop[3];
    GString *d = g_string_new ("appsrc name=src format=time caps=" CAPS);
    for (guint i = 0; i < n; i++) {
      random_stage (&st[i]);
      /* round 0: every actor staged; then at random */
      staged[i] = round == 0 || g_rand_boolean (rng);
      append_actor (d, i, &st[i], staged[i] ? "ring-size=8 arena-size=65536 link=staged"
                                             : "ring-size=8 arena-size=65536");
    }
    for (guint i = 0; i + 1 < n; i++)
      hop[i] = !(staged[i] || staged[i + 1]) ? "device" : has_staged ? "staged" : "host";
    g_string_append (d, " ! appsink name=sink sync=false");
    GST_INFO ("%s", d->str);
    GstElement *p = run_chain (d->str, st, n, nbuf);
    check_paths (p, n, nbuf, hop);
    stop (p);
    g_string_free (d, TRUE);
  }
}
GST_END_TEST;

/* A chain of 4 in a harness: buffers, a flush while they are in flight, more buffers, EOS. Every
 * output is right and comes once, in order; everything after the flush comes out; EOS comes last. */
GST_START_TEST (test_flush_and_eos)
{
  Stage st[4];
  GString *d = g_string_new ("");
  for (guint i = 0; i < 4; i++) {
    random_stage (&st[i]);
    g_string_append (d, i ? " ! " : "");
    GString *one = g_string_new ("");
    append_actor (one, i, &st[i], "ring-size=16");
    g_string_append (d, one->str + 3); /* without the leading " ! " */
    g_string_free (one, TRUE);
  }
  GstHarness *h = gst_harness_new_parse (d->str);
  g_string_free (d, TRUE);
  gst_harness_set_src_caps_str (h, CAPS);

  enum { BEFORE = 300, AFTER = 200, SAMPLES = 256 };
  float x[SAMPLES], y[SAMPLES];
  GHashTable *want = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  for (guint b = 0; b < BEFORE + AFTER; b++) {
    if (b == BEFORE) {
      fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
      fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
      GstSegment seg;
      gst_segment_init (&seg, GST_FORMAT_TIME);
      fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
    }
    for (guint k = 0; k < SAMPLES; k++)
      x[k] = (float) g_rand_double_range (rng, -10.0, 10.0);
    reference (st, 4, x, SAMPLES, y);
    g_hash_table_insert (want, GUINT_TO_POINTER (b), g_memdup2 (y, sizeof y));
    GstBuffer *buf = gst_buffer_new_memdup (x, sizeof x);
    GST_BUFFER_PTS (buf) = b * GST_MSECOND;
    GstFlowReturn r = gst_harness_push (h, buf);
    fail_unless (r == GST_FLOW_OK, "push %u: %s", b, gst_flow_get_name (r));
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));

  /* outputs, in order, until EOS (the harness keeps buffers and events in separate queues: once EOS
   * is there, every buffer before it is too) */
  gint last = -1;
  guint after = 0;
  gboolean eos = FALSE;
  for (;;) {
    GstEvent *ev;
    while (!eos && (ev = gst_harness_try_pull_event (h))) {
      eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
      gst_event_unref (ev);
    }
    GstBuffer *b = gst_harness_try_pull (h);
    if (!b) {
      if (eos)
        break;
      g_usleep (1000);
      continue;
    }
    gint k = (gint) (GST_BUFFER_PTS (b) / GST_MSECOND);
    fail_unless (k > last, "buffer %d after %d: repeated or out of order", k, last);
    last = k;
    fail_unless (gst_buffer_memcmp (b, 0, g_hash_table_lookup (want, GUINT_TO_POINTER (k)),
                     sizeof y) == 0, "buffer %d differs from the reference", k);
    after += k >= BEFORE;
    gst_buffer_unref (b);
  }
  fail_unless_equals_int (after, AFTER);
  /* every element accounts for every buffer it took: pushed on (a token, or the last one's output), or
   * flushed */
  for (guint i = 0; i < 4; i++) {
    gchar name[8];
    g_snprintf (name, sizeof name, "a%u", i);
    GstElement *e = gst_bin_get_by_name (GST_BIN (h->element), name);
    GstStructure *s = NULL;
    g_object_get (e, "stats", &s, NULL);
    fail_unless_equals_uint64 (stat_u64 (s, "buffers-in"), stat_u64 (s, "buffers-out") + stat_u64 (s, "flushed"));
    fail_unless (stat_u64 (s, "buffers-out") >= AFTER);
    gst_structure_free (s);
    gst_object_unref (e);
  }
  g_hash_table_unref (want);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* A million small buffers through a chain of 4, to a consumer that stops now and then: the producers
 * wait for it (through the inboxes and rings), and every buffer arrives, once, in order, right. */
static gpointer
slow_consumer (gpointer data)
{
  GstAppSink *sink = data;
  guint64 got = 0;
  for (;;) {
    GstSample *s = gst_app_sink_pull_sample (sink);
    if (!s)
      break;
    GstBuffer *b = gst_sample_get_buffer (s);
    float v[4];
    fail_unless_equals_int (gst_buffer_extract (b, 0, v, sizeof v), sizeof v);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), got);
    /* scale 1,1 four times: k + 4 (exact below 2^24) */
    fail_unless (v[0] == (float) (got % 1000000) + 4.0f && v[3] == v[0], "buffer %" G_GUINT64_FORMAT, got);
    got++;
    gst_sample_unref (s);
    if (got % 50000 == 0)
      g_usleep (20000); /* the consumer stalls: everything upstream must wait, not drop */
  }
  return GUINT_TO_POINTER ((guint) got);
}

GST_START_TEST (test_slow_consumer_million)
{
  const guint nbuf = g_getenv ("RKLINKS_BUFFERS") ? (guint) atoi (g_getenv ("RKLINKS_BUFFERS")) : 1000000;
  GString *d = g_string_new ("appsrc name=src format=time block=true max-bytes=4096 caps=" CAPS);
  for (guint i = 0; i < 4; i++)
    g_string_append_printf (d, " ! rkactor name=a%u backend=%s kernel=scale params=\"p,a=1.0,b=1.0\" "
        "ring-size=16 arena-size=16384", i, backend ());
  g_string_append (d, " ! appsink name=sink sync=false max-buffers=8");
  GstElement *p = gst_parse_launch (d->str, NULL);
  g_string_free (d, TRUE);
  GstAppSrc *src = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (p), "src"));
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  GThread *t = g_thread_new ("consumer", slow_consumer, sink);

  for (guint b = 0; b < nbuf; b++) {
    float v[4];
    v[0] = v[1] = v[2] = v[3] = (float) (b % 1000000);
    GstBuffer *buf = gst_buffer_new_memdup (v, sizeof v);
    GST_BUFFER_OFFSET (buf) = b;
    fail_unless_equals_int (gst_app_src_push_buffer (src, buf), GST_FLOW_OK);
  }
  gst_app_src_end_of_stream (src);
  guint got = GPOINTER_TO_UINT (g_thread_join (t));
  fail_unless_equals_int (got, nbuf);
  check_links (p, 4, nbuf, TRUE);
  for (guint i = 0; i < 4; i++) {
    GstStructure *s = stats_of (p, i);
    fail_unless_equals_uint64 (stat_u64 (s, "flushed"), 0);
    gst_structure_free (s);
  }
  gst_object_unref (src);
  gst_object_unref (sink);
  stop (p);
}
GST_END_TEST;

static Suite *
rklinks_suite (void)
{
  Suite *s = suite_create ("rklinks");
  TCase *tc = tcase_create ("general");
  rng = g_rand_new_with_seed (g_getenv ("RKLINKS_SEED") ? (guint32) atoi (g_getenv ("RKLINKS_SEED"))
                                                        : (guint32) g_get_real_time ());
  tcase_set_timeout (tc, 600);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_chains);
  tcase_add_test (tc, test_lone_buffers);
  tcase_add_test (tc, test_params_while_pushing);
  tcase_add_test (tc, test_host_paths);
  tcase_add_test (tc, test_staged_paths);
  tcase_add_test (tc, test_flush_and_eos);
  tcase_add_test (tc, test_slow_consumer_million);
  return s;
}

GST_CHECK_MAIN (rklinks);
