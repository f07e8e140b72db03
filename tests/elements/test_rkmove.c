/* gst-ringkernel: gst-check tests of moving a running rkactor (a change of backend, device-id,
 * ring-size or arena-size while it runs).
 *
 * Copyright (C) 2026 the gst-ringkernel authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A move hands the actor's state to a new actor through a snapshot and a restore, between two buffers.
 * The output must be what one actor that never moved gives: the handlers' C references from core/,
 * run over the same buffers, with nothing lost or repeated. RKMOVE_BACKENDS (a comma-separated list,
 * default "cpu") names the backends the actor moves between, in turn; CI moves it between CPU actors
 * of other ring and arena sizes, and the GPU machine between "cpu,cuda". Random input comes from one
 * seed per test, printed on stdout; RKMOVE_SEED=n repeats a run.
 */

#include <gst/app/app.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <string.h>

#include "rk_handlers.h"

#define CAPS "audio/x-raw,format=F32LE,layout=interleaved,rate=48000,channels=1"

static GRand *
new_rand (void)
{
  const gchar *env = g_getenv ("RKMOVE_SEED");
  guint32 seed = env ? (guint32) g_ascii_strtoull (env, NULL, 10) : g_random_int ();

  g_print ("random seed: %u (RKMOVE_SEED=%u repeats it)\n", seed, seed);
  return g_rand_new_with_seed (seed);
}

static gchar **
backends (void)
{
  const gchar *b = g_getenv ("RKMOVE_BACKENDS");
  return g_strsplit (b && *b ? b : "cpu", ",", -1);
}

/* The handler's C reference, run as one actor that never moves would run it. */
typedef struct {
  const rk_handler *h;
  double p[RK_MAX_PARAMS];
  void *state;
} Ref;

static void
ref_init (Ref *r, const char *kernel)
{
  r->h = rk_handler_find (kernel);
  fail_unless (r->h != NULL);
  rk_handler_default_params (r->h, r->p);
  const size_t n = rk_handler_state_size (r->h, r->p);
  r->state = n ? g_malloc0 (n) : NULL;
  if (r->h->init)
    r->h->init (r->state, r->p);
}

static void
ref_step (Ref *r, const float *x, guint n, float *y)
{
  uint32_t len = 0;
  fail_unless_equals_int (r->h->process (r->state, r->p, (const uint8_t *) x, n * 4, (uint8_t *) y,
                              n * 4, &len), RK_STATUS_OK);
  fail_unless_equals_int (len, n * 4);
}

static GstElement *
make_actor (const gchar *backend, const gchar *kernel, GstBus *bus)
{
  GstElement *e = gst_element_factory_make ("rkactor", NULL);

  fail_unless (e != NULL, "no rkactor element: is GST_PLUGIN_PATH_1_0 set to the build?");
  gst_util_set_object_arg (G_OBJECT (e), "backend", backend);
  g_object_set (e, "kernel", kernel, NULL);
  gst_element_set_bus (e, bus);
  return e;
}

static GstBuffer *
buffer_of (const float *x, guint n, guint index)
{
  GstBuffer *buf = gst_buffer_new_memdup (x, n * sizeof (float));
  GST_BUFFER_PTS (buf) = index * GST_MSECOND;
  GST_BUFFER_DURATION (buf) = GST_MSECOND;
  GST_BUFFER_OFFSET (buf) = index;
  return buf;
}

static void
random_floats (GRand *rand, float *x, guint n)
{
  for (guint i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (rand, -100.0, 100.0);
}

/* out's floats equal y[0..n) bit for bit */
static void
check_output (GstBuffer *out, const float *y, guint n, guint index)
{
  GstMapInfo map;

  fail_unless (out != NULL, "buffer %u lost", index);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (out), index);
  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  fail_unless_equals_uint64 (map.size, n * 4);
  for (guint i = 0; i < n; i++) {
    float v;
    memcpy (&v, map.data + 4 * i, 4);
    fail_unless (memcmp (&v, &y[i], 4) == 0, "buffer %u, sample %u: %g, expected %g", index, i, v,
        y[i]);
  }
  gst_buffer_unmap (out, &map);
}

/* One harness test: an actor of a kernel on the first backend named, posting on its own bus, fed
 * buffers of `samples` random floats whose expected answers (the C reference's) wait in y[]. */
typedef struct {
  GRand *rand;
  gchar **names;
  guint nb, n, samples;
  GstBus *bus;
  GstHarness *h;
  Ref ref;
  float *x, **y;
} Fixture;

/* samples 0: a random count */
static void
fixture_init (Fixture *f, const gchar *kernel, guint n, guint samples)
{
  f->rand = new_rand ();
  f->names = backends ();
  f->nb = g_strv_length (f->names);
  f->n = n;
  f->samples = samples ? samples : (guint) g_rand_int_range (f->rand, 1000, 60000);
  f->bus = gst_bus_new ();
  f->h = gst_harness_new_with_element (make_actor (f->names[0], kernel, f->bus), "sink", "src");
  gst_object_unref (f->h->element);
  gst_harness_set_src_caps_str (f->h, CAPS);
  ref_init (&f->ref, kernel);
  f->x = g_new (float, f->samples);
  f->y = g_new0 (float *, n);
}

/* Buffer i in, its expected answer kept. */
static void
push_next (Fixture *f, guint i)
{
  random_floats (f->rand, f->x, f->samples);
  f->y[i] = g_new (float, f->samples);
  ref_step (&f->ref, f->x, f->samples, f->y[i]);
  fail_unless_equals_int (gst_harness_push (f->h, buffer_of (f->x, f->samples, i)), GST_FLOW_OK);
}

/* The answer of buffer i out, checked. */
static void
pull_check (Fixture *f, guint i)
{
  GstBuffer *out = gst_harness_pull (f->h);
  check_output (out, f->y[i], f->samples, i);
  gst_buffer_unref (out);
  g_clear_pointer (&f->y[i], g_free);
}

/* Every answer from `from` on out and checked; nothing more came out. */
static void
pull_rest (Fixture *f, guint from)
{
  for (guint i = from; i < f->n; i++)
    pull_check (f, i);
  fail_unless (gst_harness_try_pull (f->h) == NULL, "a buffer came out twice");
}

/* Messages queued on the bus hold the element, which holds the bus: dropped first. */
static void
fixture_clear (Fixture *f)
{
  gst_bus_set_flushing (f->bus, TRUE);
  gst_harness_teardown (f->h);
  gst_object_unref (f->bus);
  g_free (f->ref.state);
  g_free (f->x);
  for (guint i = 0; i < f->n; i++)
    g_free (f->y[i]);
  g_free (f->y);
  g_strfreev (f->names);
  g_rand_free (f->rand);
}

/* The next element message of `name` on the bus (fails when there is none). */
static GstStructure *
pop_element_message (GstBus *bus, const gchar *name)
{
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND,
        GST_MESSAGE_ELEMENT | GST_MESSAGE_WARNING | GST_MESSAGE_ERROR);
    fail_unless (msg != NULL, "no %s message on the bus", name);
    if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ELEMENT) {
      GError *err = NULL;
      gchar *dbg = NULL;
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING)
        gst_message_parse_warning (msg, &err, &dbg);
      else
        gst_message_parse_error (msg, &err, &dbg);
      fail ("expected %s, got: %s (%s)", name, err->message, GST_STR_NULL (dbg));
    }
    const GstStructure *s = gst_message_get_structure (msg);
    if (gst_structure_has_name (s, name)) {
      GstStructure *copy = gst_structure_copy (s);
      gst_message_unref (msg);
      return copy;
    }
    gst_message_unref (msg);
  }
}

/* The text of the next WARNING on the bus (fails when there is none). */
static gchar *
pop_warning_text (GstBus *bus)
{
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND, GST_MESSAGE_WARNING);
  GError *err = NULL;
  gchar *dbg = NULL, *text;

  fail_unless (msg != NULL, "no WARNING message on the bus");
  gst_message_parse_warning (msg, &err, &dbg);
  text = g_strdup_printf ("%s | %s", err->message, GST_STR_NULL (dbg));
  g_error_free (err);
  g_free (dbg);
  gst_message_unref (msg);
  return text;
}

/* A refused move's warning: it says the actor stays, and why (`needle`). */
static void
assert_contains_stays (const gchar *text, const gchar *needle)
{
  fail_unless (strstr (text, "stays") != NULL && strstr (text, needle) != NULL,
      "'%s' does not say that the actor stays, because of '%s'", text, needle);
}

static guint
stats_uint (GstElement *e, const gchar *field)
{
  GstStructure *s = NULL;
  guint v = 0;
  g_object_get (e, "stats", &s, NULL);
  fail_unless (s && gst_structure_get_uint (s, field, &v), "stats lack %s", field);
  gst_structure_free (s);
  return v;
}

static gchar *
stats_string (GstElement *e, const gchar *field)
{
  GstStructure *s = NULL;
  g_object_get (e, "stats", &s, NULL);
  fail_unless (s != NULL);
  gchar *v = g_strdup (gst_structure_get_string (s, field));
  gst_structure_free (s);
  return v;
}

/* accumulate keeps a running sum per sample across buffers: its state must survive every move. The
 * actor moves every few buffers, between the backends named, to rings and arenas of other sizes, with
 * buffers still in flight; every answer must equal the reference's. */
GST_START_TEST (test_move_keeps_state)
{
  Fixture f;
  const guint rings[] = { 8, 32, 2, 16 }; /* none is the default (64): every step moves */
  const guint64 arenas[] = { 4 << 20, 16 << 20, 8 << 20 };
  const guint n = 48, every = 6, lag = 3;
  guint moves = 0;

  fixture_init (&f, "accumulate", n, 0);
  for (guint i = 0; i < n; i++) {
    if (i && i % every == 0) {
      /* the next backend, and another ring (and every other time another arena) */
      gst_util_set_object_arg (G_OBJECT (f.h->element), "backend", f.names[(i / every) % f.nb]);
      g_object_set (f.h->element, "ring-size", rings[(i / every) % G_N_ELEMENTS (rings)], NULL);
      if (i % (2 * every) == 0)
        g_object_set (f.h->element, "arena-size", arenas[(i / every) % G_N_ELEMENTS (arenas)], NULL);
      moves++;
    }
    push_next (&f, i);
    if (i && i % every == 0) {
      /* the move was made before this buffer went in */
      GstStructure *m = pop_element_message (f.bus, "rkactor-moved");
      guint ring = 0;
      gdouble pause = -1;
      fail_unless_equals_string (gst_structure_get_string (m, "backend"), f.names[(i / every) % f.nb]);
      fail_unless (gst_structure_get_uint (m, "ring-size", &ring));
      fail_unless_equals_int (ring, rings[(i / every) % G_N_ELEMENTS (rings)]);
      gdouble launch = -1, waited = -1, handover = -1;
      fail_unless (gst_structure_get_double (m, "pause-us", &pause) && pause >= 0);
      fail_unless (gst_structure_get_double (m, "launch-us", &launch) && launch >= 0);
      fail_unless (gst_structure_get_double (m, "waited-launch-us", &waited) && waited >= 0);
      fail_unless (gst_structure_get_double (m, "handover-us", &handover) && handover >= 0);
      fail_unless (waited + handover <= pause, "%g + %g > %g", waited, handover, pause);
      g_print ("move %u to %s, ring %u: the stream waited %.1f us (%.1f of them for the rest of a "
          "%.1f us start, %.1f for the handover)\n", moves, gst_structure_get_string (m, "backend"),
          ring, pause, waited, launch, handover);
      gst_structure_free (m);
    }
    /* answers are taken a few buffers behind, so that moves meet buffers in flight (the output
     * buffers that downstream holds take room in the actor's arena, as a sink's would) */
    if (i >= lag)
      pull_check (&f, i - lag);
  }
  pull_rest (&f, n - lag);
  fail_unless_equals_int (stats_uint (f.h->element, "moves"), moves);
  fail_unless_equals_int (stats_uint (f.h->element, "ring-size"),
      rings[((n - 1) / every) % G_N_ELEMENTS (rings)]);
  fixture_clear (&f);
}

GST_END_TEST;

/* The new actor starts when the property changes, not when the next buffer comes: a buffer that comes
 * well after the change finds it started, and waits for the handover only. */
GST_START_TEST (test_move_started_ahead)
{
  Fixture f;
  const guint n = 8;

  fixture_init (&f, "accumulate", n, 0);
  for (guint i = 0; i < n; i++) {
    if (i == 3 || i == 6) {
      gst_util_set_object_arg (G_OBJECT (f.h->element), "backend", f.names[(i / 3) % f.nb]);
      g_object_set (f.h->element, "ring-size", i == 3 ? 16 : 8, NULL);
      g_usleep (G_USEC_PER_SEC / 2); /* a start takes milliseconds at most */
    }
    push_next (&f, i);
    if (i == 3 || i == 6) {
      GstStructure *m = pop_element_message (f.bus, "rkactor-moved");
      gboolean ahead = FALSE;
      guint ring = 0;
      fail_unless (gst_structure_get_boolean (m, "started-ahead", &ahead) && ahead);
      fail_unless (gst_structure_get_uint (m, "ring-size", &ring) && ring == (i == 3 ? 16u : 8u));
      gst_structure_free (m);
    }
    pull_check (&f, i);
  }
  fail_unless_equals_int (stats_uint (f.h->element, "moves"), 2);
  fixture_clear (&f);
}

GST_END_TEST;

/* Parameters set before a move reach the new actor (they travel in the snapshot); one set in the same
 * gap as the move as well. */
GST_START_TEST (test_move_keeps_params)
{
  Fixture f;
  const guint n = 12;

  fixture_init (&f, "scale", n, 333);
  for (guint i = 0; i < n; i++) {
    if (i == 4 || i == 8) {
      GstStructure *p = gst_structure_new ("p", "a", G_TYPE_DOUBLE,
          f.ref.p[0] = i == 4 ? -2.5 : 0.75, "b", G_TYPE_DOUBLE, f.ref.p[1] = i == 4 ? 7.0 : -3.0,
          NULL);
      g_object_set (f.h->element, "params", p, NULL);
      gst_structure_free (p);
      gst_util_set_object_arg (G_OBJECT (f.h->element), "backend", f.names[(i / 4) % f.nb]);
      g_object_set (f.h->element, "ring-size", i == 4 ? 4 : 32, NULL);
    }
    push_next (&f, i);
  }
  pull_rest (&f, 0);
  fail_unless_equals_int (stats_uint (f.h->element, "moves"), 2);
  fixture_clear (&f);
}

GST_END_TEST;

/* A move that cannot be made says why, and the actor goes on where it was, its state intact: a device
 * that does not exist, a ring size that is not a power of two. */
GST_START_TEST (test_move_refused)
{
  Fixture f;
  const guint n = 9;
  gchar *text, *where;

  fixture_init (&f, "accumulate", n, 500);
  for (guint i = 0; i < n; i++) {
    if (i == 3)
      g_object_set (f.h->element, "device-id", 4096, NULL);
    if (i == 6) {
      g_object_set (f.h->element, "device-id", -1, NULL);
      g_object_set (f.h->element, "ring-size", 48, NULL);
    }
    push_next (&f, i);
    if (i == 3 || i == 6) {
      text = pop_warning_text (f.bus);
      assert_contains_stays (text, i == 3 ? "4096" : "power of two");
      g_free (text);
    }
  }
  pull_rest (&f, 0);
  fail_unless_equals_int (stats_uint (f.h->element, "moves"), 0);
  where = stats_string (f.h->element, "backend");
  fail_unless_equals_string (where, f.names[0]);
  g_free (where);
  fixture_clear (&f);
}

GST_END_TEST;

/* Two actors linked K2K: the route of the upstream one points into the downstream one's memory, so
 * neither moves; each says so, and the chain stays correct. With link=host between them, both move. */
static void
run_chain (gboolean host)
{
  gchar **names = backends ();
  gchar *desc = g_strdup_printf ("appsrc name=src caps=" CAPS " format=time ! rkactor name=a "
      "backend=%s kernel=scale params=\"p,a=2.0,b=1.0\" link=%s ! rkactor name=b backend=%s "
      "kernel=accumulate ! appsink name=sink sync=false", names[0], host ? "host" : "auto", names[0]);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstBus *bus = gst_bus_new ();
  GstElement *src, *sink, *a, *b;
  const guint n = 12, samples = 256;
  float x[256], mid[256], **y = g_new0 (float *, n);
  GRand *rand = new_rand ();
  Ref sc, acc;

  fail_unless (pipe != NULL);
  gst_element_set_bus (pipe, bus);
  src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  a = gst_bin_get_by_name (GST_BIN (pipe), "a");
  b = gst_bin_get_by_name (GST_BIN (pipe), "b");
  ref_init (&sc, "scale");
  sc.p[0] = 2.0;
  sc.p[1] = 1.0;
  ref_init (&acc, "accumulate");
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);

  for (guint i = 0; i < n; i++) {
    if (i == 4)
      g_object_set (a, "ring-size", 8, NULL);
    if (i == 8)
      g_object_set (b, "ring-size", 8, NULL);
    random_floats (rand, x, samples);
    y[i] = g_new (float, samples);
    ref_step (&sc, x, samples, mid);
    ref_step (&acc, mid, samples, y[i]);
    fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (src), buffer_of (x, samples, i)),
        GST_FLOW_OK);
    /* one buffer at a time: each move comes between two buffers that both actors have seen */
    GstSample *s = gst_app_sink_pull_sample (GST_APP_SINK (sink));
    fail_unless (s != NULL, "buffer %u lost", i);
    check_output (gst_sample_get_buffer (s), y[i], samples, i);
    gst_sample_unref (s);
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  fail_unless (gst_app_sink_pull_sample (GST_APP_SINK (sink)) == NULL, "more buffers than went in");

  gchar *link = stats_string (a, "link-out");
  fail_unless_equals_string (link, host ? "host" : "device");
  g_free (link);
  if (host) {
    for (guint k = 0; k < 2; k++) {
      GstStructure *m = pop_element_message (bus, "rkactor-moved");
      gst_structure_free (m);
    }
    fail_unless_equals_int (stats_uint (a, "moves"), 1);
    fail_unless_equals_int (stats_uint (b, "moves"), 1);
  } else {
    for (guint k = 0; k < 2; k++) {
      gchar *text = pop_warning_text (bus);
      assert_contains_stays (text, "K2K");
      g_free (text);
    }
    fail_unless_equals_int (stats_uint (a, "moves"), 0);
    fail_unless_equals_int (stats_uint (b, "moves"), 0);
  }

  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (a);
  gst_object_unref (b);
  gst_object_unref (pipe);
  g_free (desc);
  g_free (sc.state);
  g_free (acc.state);
  for (guint i = 0; i < n; i++)
    g_free (y[i]);
  g_free (y);
  g_strfreev (names);
  g_rand_free (rand);
}

GST_START_TEST (test_move_linked)
{
  run_chain (FALSE);
  run_chain (TRUE);
}

GST_END_TEST;

/* Moves asked for from another thread while the streaming thread feeds a full ring: each is made
 * between two buffers, and not one buffer is lost, repeated or computed with a lost state. */
typedef struct {
  GstElement *e;
  gint stop;
  guint asked;
} Mover;

static gpointer
mover_thread (gpointer data)
{
  Mover *m = data;
  gchar **names = backends ();
  const guint nb = g_strv_length (names);
  while (!g_atomic_int_get (&m->stop)) {
    g_usleep (2000);
    gst_util_set_object_arg (G_OBJECT (m->e), "backend", names[m->asked % nb]);
    g_object_set (m->e, "ring-size", m->asked % 2 ? 4 : 16, NULL);
    m->asked++;
  }
  g_strfreev (names);
  return NULL;
}

GST_START_TEST (test_move_under_load)
{
  Fixture f;
  const guint n = 600, lag = 8;
  Mover m = { 0 };

  fixture_init (&f, "accumulate", n, 2048);
  m.e = f.h->element;
  GThread *t = g_thread_new ("mover", mover_thread, &m);
  for (guint i = 0; i < n; i++) {
    push_next (&f, i);
    /* answers are taken a few buffers behind, so that moves meet records in flight */
    if (i >= lag)
      pull_check (&f, i - lag);
  }
  pull_rest (&f, n - lag);
  g_atomic_int_set (&m.stop, 1);
  g_thread_join (t);
  guint moves = stats_uint (f.h->element, "moves");
  g_print ("%u moves asked for, %u made over %u buffers\n", m.asked, moves, n);
  fail_unless (moves > 0 && moves <= m.asked);
  fixture_clear (&f);
}

GST_END_TEST;

static Suite *
rkmove_suite (void)
{
  Suite *s = suite_create ("rkmove");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_move_keeps_state);
  tcase_add_test (tc, test_move_keeps_params);
  tcase_add_test (tc, test_move_started_ahead);
  tcase_add_test (tc, test_move_refused);
  tcase_add_test (tc, test_move_linked);
  tcase_add_test (tc, test_move_under_load);
  return s;
}

GST_CHECK_MAIN (rkmove);
