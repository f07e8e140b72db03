/* rkactor with buffer lists: lists in (chain_list), lists out (buffer-lists=true); every buffer arrives
 * once, in order, with its timestamps, and its payload through the kernel. */
#include <gst/app/app.h>
#include <gst/check/gstcheck.h>

#define N_LISTS 200
#define PER_LIST 64

static void
check_lists (const gchar *actor_props)
{
  gchar *desc = g_strdup_printf ("appsrc name=src format=time caps=audio/x-raw,format=F32LE,"
      "layout=interleaved,rate=48000,channels=1 ! rkactor backend=cpu kernel=scale "
      "params=\"p,a=2.0,b=1.0\" %s ! appsink name=sink sync=false buffer-list=true", actor_props);
  GstElement *p = gst_parse_launch (desc, NULL);
  g_free (desc);
  fail_unless (p != NULL);
  GstAppSrc *src = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (p), "src"));
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);

  for (guint l = 0; l < N_LISTS; l++) {
    GstBufferList *list = gst_buffer_list_new_sized (PER_LIST);
    for (guint i = 0; i < PER_LIST; i++) {
      guint k = l * PER_LIST + i;
      float x[16];
      for (guint j = 0; j < 16; j++)
        x[j] = (float) (k * 16 + j);
      GstBuffer *b = gst_buffer_new_memdup (x, sizeof x);
      GST_BUFFER_PTS (b) = k * GST_MSECOND;
      gst_buffer_list_add (list, b);
    }
    fail_unless_equals_int (gst_app_src_push_buffer_list (src, list), GST_FLOW_OK);
  }
  gst_app_src_end_of_stream (src);

  guint k = 0;
  for (;;) {
    GstSample *s = gst_app_sink_pull_sample (sink);
    if (!s)
      break;
    GstBufferList *list = gst_sample_get_buffer_list (s);
    guint n = list ? gst_buffer_list_length (list) : 1;
    for (guint i = 0; i < n; i++) {
      GstBuffer *b = list ? gst_buffer_list_get (list, i) : gst_sample_get_buffer (s);
      float y[16];
      fail_unless_equals_int (gst_buffer_extract (b, 0, y, sizeof y), sizeof y);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (b), k * GST_MSECOND);
      for (guint j = 0; j < 16; j++)
        fail_unless (y[j] == 2.0f * (float) (k * 16 + j) + 1.0f, "buffer %u sample %u", k, j);
      k++;
    }
    gst_sample_unref (s);
  }
  fail_unless_equals_int (k, N_LISTS * PER_LIST);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (p);
}

GST_START_TEST (test_lists_in_buffers_out)
{
  check_lists ("");
}
GST_END_TEST;

GST_START_TEST (test_lists_in_lists_out)
{
  check_lists ("buffer-lists=true");
}
GST_END_TEST;

static Suite *
rklists_suite (void)
{
  Suite *s = suite_create ("rklists");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_lists_in_buffers_out);
  tcase_add_test (tc, test_lists_in_lists_out);
  return s;
}

GST_CHECK_MAIN (rklists);
