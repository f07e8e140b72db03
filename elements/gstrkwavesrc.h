/* gst-ringkernel: rkwavesrc, a live video source showing a wave simulation that lives in an actor. */
#ifndef __GST_RK_WAVE_SRC_H__
#define __GST_RK_WAVE_SRC_H__

#include <gst/base/gstpushsrc.h>
#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * GstRkWaveBoundary:
 * @GST_RK_WAVE_BOUNDARY_REFLECTING: waves bounce off the edges (rigid walls)
 * @GST_RK_WAVE_BOUNDARY_ABSORBING: a damping band along the edges takes what enters it
 */
typedef enum {
  GST_RK_WAVE_BOUNDARY_REFLECTING = 0,
  GST_RK_WAVE_BOUNDARY_ABSORBING = 1,
} GstRkWaveBoundary;

#define GST_TYPE_RK_WAVE_BOUNDARY (gst_rk_wave_boundary_get_type ())
GType gst_rk_wave_boundary_get_type (void);

#define GST_TYPE_RK_WAVE_SRC (gst_rk_wave_src_get_type ())
G_DECLARE_FINAL_TYPE (GstRkWaveSrc, gst_rk_wave_src, GST, RK_WAVE_SRC, GstPushSrc)

GST_ELEMENT_REGISTER_DECLARE (rkwavesrc);

G_END_DECLS

#endif /* __GST_RK_WAVE_SRC_H__ */
