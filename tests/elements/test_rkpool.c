/* rkactor's pool: upstream that takes it writes straight into the actor's input arena.
 *
 * - videotestsrc takes the pool: every buffer goes in place, and the output equals the input;
 * - behind a tee the buffers are shared: they are copied instead, and the output still equals;
 * - a small arena that only holds a few frames: upstream waits for room (backpressure), nothing lost.
 */
#include <gst/check/gstcheck.h>

static GstStructure *
run (const gchar *desc, guint *n_out, guint64 *checksum)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);
  fail_unless (p != NULL && err == NULL, "pipeline: %s", err ? err->message : "?");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  GstElement *actor = gst_bin_get_by_name (GST_BIN (p), "actor");
  GstBus *bus = gst_element_get_bus (p);
  GstStructure *stats = NULL;

  *n_out = 0;
  *checksum = 0;
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  for (;;) {
    GstSample *s = NULL;
    g_signal_emit_by_name (sink, "pull-sample", &s);
    if (!s)
      break;
    GstMapInfo m;
    GstBuffer *b = gst_sample_get_buffer (s);
    fail_unless (gst_buffer_map (b, &m, GST_MAP_READ));
    for (gsize i = 0; i < m.size; i++)
      *checksum = *checksum * 1099511628211ull + m.data[i];
    gst_buffer_unmap (b, &m);
    gst_sample_unref (s);
    (*n_out)++;
  }
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS, "no EOS");
  gst_message_unref (msg);
  if (actor)
    g_object_get (actor, "stats", &stats, NULL);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (sink);
  if (actor)
    gst_object_unref (actor);
  gst_object_unref (p);
  return stats;
}

#define SRC "videotestsrc num-buffers=60 pattern=ball ! video/x-raw,format=RGBA,width=160,height=120 "

GST_START_TEST (test_in_place)
{
  guint n, n_direct;
  guint64 sum, sum_direct;
  guint64 in, in_place;
  GstStructure *st;

  run (SRC "! appsink name=sink sync=false", &n_direct, &sum_direct);
  st = run (SRC "! rkactor name=actor backend=cpu kernel=echo ! appsink name=sink sync=false", &n, &sum);
  fail_unless (gst_structure_get_uint64 (st, "buffers-in", &in));
  fail_unless (gst_structure_get_uint64 (st, "buffers-in-place", &in_place));
  gst_structure_free (st);
  fail_unless_equals_int (n, n_direct);
  fail_unless_equals_uint64 (in, 60);
  fail_unless_equals_uint64 (in_place, 60);
  fail_unless (sum == sum_direct, "output differs from the input");
}
GST_END_TEST;

GST_START_TEST (test_shared_buffers_are_copied)
{
  guint n, n_direct;
  guint64 sum, sum_direct;
  guint64 in_place;
  GstStructure *st;

  run (SRC "! appsink name=sink sync=false", &n_direct, &sum_direct);
  st = run (SRC "! tee name=t ! queue ! rkactor name=actor backend=cpu kernel=echo "
      "! appsink name=sink sync=false t. ! queue ! fakesink", &n, &sum);
  fail_unless (gst_structure_get_uint64 (st, "buffers-in-place", &in_place));
  gst_structure_free (st);
  fail_unless_equals_uint64 (in_place, 0);
  fail_unless_equals_int (n, n_direct);
  fail_unless (sum == sum_direct, "output differs from the input");
}
GST_END_TEST;

GST_START_TEST (test_small_arena_backpressure)
{
  guint n, n_direct;
  guint64 sum, sum_direct, in_place;
  GstStructure *st;

  /* 160x120 RGBA is 76800 bytes: an arena of 4 frames makes upstream wait for room */
  run (SRC "! appsink name=sink sync=false", &n_direct, &sum_direct);
  st = run (SRC "! rkactor name=actor backend=cpu kernel=echo arena-size=307200 "
      "! appsink name=sink sync=true max-buffers=2", &n, &sum);
  fail_unless (gst_structure_get_uint64 (st, "buffers-in-place", &in_place));
  gst_structure_free (st);
  fail_unless (in_place > 0);
  fail_unless_equals_int (n, n_direct);
  fail_unless (sum == sum_direct, "output differs from the input");
}
GST_END_TEST;

static Suite *
rkpool_suite (void)
{
  Suite *s = suite_create ("rkpool");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_in_place);
  tcase_add_test (tc, test_shared_buffers_are_copied);
  tcase_add_test (tc, test_small_arena_backpressure);
  return s;
}

GST_CHECK_MAIN (rkpool);
