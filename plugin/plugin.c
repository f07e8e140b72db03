/* gst-ringkernel: the ringkernel plugin. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstrkactor.h"
#include "gstrkspectrum.h"
#include "gstrkwavesrc.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ok = GST_ELEMENT_REGISTER (rkactor, plugin);
  ok &= GST_ELEMENT_REGISTER (rkwavesrc, plugin);
  ok &= GST_ELEMENT_REGISTER (rkspectrum, plugin);
  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, ringkernel,
    "Persistent GPU actors fed through shared-memory rings", plugin_init, VERSION, "LGPL",
    PACKAGE_NAME, "https://github.com/gst-ringkernel/gst-ringkernel")
