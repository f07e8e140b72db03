/* rk-run: run a gst-launch style pipeline to its end, then print the stats of every actor element.
 *
 *   rk-run "audiotestsrc num-buffers=1000 ! audio/x-raw,format=F32LE ! rkactor kernel=scale ! fakesink"
 *
 * Exits 0 at EOS, 1 on an error (printed), 2 on bad usage.
 */
#include <gst/gst.h>
#include <stdio.h>
#include <string.h>

static void
print_stats (GstElement *pipeline)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (pipeline));
  GValue item = G_VALUE_INIT;

  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&item);
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && g_str_has_prefix (GST_OBJECT_NAME (f), "rk")
        && g_object_class_find_property (G_OBJECT_GET_CLASS (e), "stats")) {
      GstStructure *s = NULL;
      g_object_get (e, "stats", &s, NULL);
      printf ("%s (%s):\n", GST_OBJECT_NAME (e), GST_OBJECT_NAME (f));
      for (gint i = 0; s && i < gst_structure_n_fields (s); i++) {
        const gchar *name = gst_structure_nth_field_name (s, i);
        const GValue *value = gst_structure_get_value (s, name);
        gchar *v = G_VALUE_HOLDS_DOUBLE (value) ? g_strdup_printf ("%.2f", g_value_get_double (value))
            : gst_value_serialize (value);
        printf ("  %-16s %s\n", name, v);
        g_free (v);
      }
      if (s)
        gst_structure_free (s);
    }
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
}

int
main (int argc, char **argv)
{
  GError *err = NULL;
  GstElement *pipeline;
  GstBus *bus;
  GstMessage *msg;
  int ret = 0;
  gint64 start, end;

  gst_init (&argc, &argv);
  if (argc != 2) {
    fprintf (stderr, "usage: %s \"PIPELINE DESCRIPTION\"\n", argv[0]);
    return 2;
  }
  pipeline = gst_parse_launch (argv[1], &err);
  if (!pipeline) {
    fprintf (stderr, "rk-run: %s\n", err->message);
    g_error_free (err);
    return 1;
  }
  if (err) {
    fprintf (stderr, "rk-run: %s\n", err->message);
    g_clear_error (&err);
  }

  bus = gst_element_get_bus (pipeline);
  start = g_get_monotonic_time ();
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    fprintf (stderr, "rk-run: the pipeline did not start\n");
  for (;;) {
    msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_INFO | GST_MESSAGE_WARNING);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      gst_message_unref (msg);
      break;
    }
    GError *e = NULL;
    gchar *dbg = NULL;
    const gchar *kind = "info";
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_ERROR:
        gst_message_parse_error (msg, &e, &dbg);
        kind = "error";
        ret = 1;
        break;
      case GST_MESSAGE_WARNING:
        gst_message_parse_warning (msg, &e, &dbg);
        kind = "warning";
        break;
      default:
        gst_message_parse_info (msg, &e, &dbg);
        break;
    }
    fprintf (ret ? stderr : stdout, "%s from %s: %s\n  (%s)\n", kind, GST_OBJECT_NAME (msg->src),
        e ? e->message : "", dbg ? dbg : "");
    g_clear_error (&e);
    g_free (dbg);
    gst_message_unref (msg);
    if (ret)
      break;
  }
  end = g_get_monotonic_time ();
  if (!ret)
    printf ("reached EOS in %.3f s\n", (end - start) / 1e6);
  print_stats (pipeline);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  gst_deinit ();
  return ret;
}
