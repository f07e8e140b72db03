/* gst-ringkernel: rkspectrum, a drop-in for GStreamer's spectrum element whose FFT lives in an actor. */
#ifndef __GST_RK_SPECTRUM_H__
#define __GST_RK_SPECTRUM_H__

#include <gst/audio/gstaudiofilter.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_RK_SPECTRUM (gst_rk_spectrum_get_type ())
G_DECLARE_FINAL_TYPE (GstRkSpectrum, gst_rk_spectrum, GST, RK_SPECTRUM, GstAudioFilter)

GST_ELEMENT_REGISTER_DECLARE (rkspectrum);

G_END_DECLS

#endif /* __GST_RK_SPECTRUM_H__ */
