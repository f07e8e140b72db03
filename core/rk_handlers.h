/* gst-ringkernel: the built-in actor handlers and their C reference implementations.
 *
 * A handler is what an actor runs for each RK_CMD_PROCESS record. The C functions here are the
 * reference: the CPU backend runs them as they are, and every device implementation is tested against
 * them on random input.
 */
#ifndef RK_HANDLERS_H
#define RK_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "rk_abi.h"
#include "rk_float.h"

#ifdef __cplusplus
extern "C" {
#endif

enum rk_kernel_id {
  RK_KERNEL_ECHO = 1,
  RK_KERNEL_SCALE = 2,
  RK_KERNEL_ACCUMULATE = 3,
  RK_KERNEL_STENCIL = 4,
  RK_KERNEL_WAVE = 5, /* rkwavesrc's simulation (core/rk_wave.h) */
  RK_KERNEL_SPECTRUM = 6, /* rkspectrum's analysis (core/rk_spectrum.h) */
  RK_KERNEL_LEVELS = 7,
  RK_KERNEL_USER = 100, /* a handler from a kernel file, compiled at run time (GPU backends) */
};

/* accumulate keeps one running sum per sample position, for buffers of up to this many samples. */
#define RK_ACCUMULATE_MAX_SAMPLES (1u << 20)

/* levels: one 16-bit sample, y = a*x + b in float32, clamped to 0..65535 and rounded half up; the C
 * reference and device code both use this (a NaN gives 0). */
RK_FLOAT_FN uint16_t
rk_levels_u16 (uint32_t x, float a, float b)
{
  const float v = rk_fadd (rk_fmul (a, (float) x), b);
  if (!(v > 0.0f))
    return 0;
  if (v >= 65535.0f)
    return 65535;
  return (uint16_t) (uint32_t) rk_fadd (v, 0.5f);
}

typedef struct rk_param_info {
  const char *name;
  const char *blurb;
  double def, min, max;
} rk_param_info;

typedef struct rk_handler {
  const char *name;
  uint32_t id; /* enum rk_kernel_id, stored in rk_control.kernel_id and checkpoints */
  const char *blurb;
  /* GStreamer caps this handler accepts in rkactor, as a caps string (output caps equal input caps);
   * NULL for a handler that only its own element drives (its payloads are commands). */
  const char *caps;
  uint32_t unit; /* a payload's length must be a multiple of this (4 for float32) */
  uint32_t n_params;
  rk_param_info params[RK_MAX_PARAMS];
  size_t state_size; /* bytes of actor-side state, 0 if stateless */
  /* Where the state's size depends on the parameters the actor starts with: that size, or 0 when they
   * are out of range. Overrides state_size. */
  size_t (*state_size_for) (const double *params);
  /* Parameters (a bit each) fixed once the actor runs: SET_PARAM of one is refused as INVALID. */
  uint32_t fixed_params;

  /* Put the state in its initial value, for the parameters the actor starts with. */
  void (*init) (void *state, const double *params);
  /* Process one payload. out has room for out_cap >= in_len bytes. Returns an enum rk_status. */
  uint32_t (*process) (void *state, const double *params, const uint8_t *in, uint32_t in_len,
      uint8_t *out, uint32_t out_cap, uint32_t *out_len);
  /* Serialise the used part of the state into buf (cap bytes). Returns the length; when it does
   * not fit, *status is RK_STATUS_TOO_LARGE and the length it needs is returned, nothing written.
   * Another failure sets *status and returns 0. NULL when the handler is stateless. */
  uint64_t (*save) (const void *state, uint8_t *buf, uint64_t cap, uint32_t *status);
  /* Replace the state with a serialised one. Returns an enum rk_status. */
  uint32_t (*load) (void *state, const uint8_t *buf, uint64_t len);
} rk_handler;

/* The state of `accumulate`, laid out the same on every backend. */
typedef struct rk_accumulate_state {
  uint64_t count;   /* buffers summed since the last restart */
  uint32_t samples; /* samples per buffer; a buffer of another length restarts the sums */
  uint32_t reserved_;
  double sum[RK_ACCUMULATE_MAX_SAMPLES];
} rk_accumulate_state;

/* The fixed part of rk_accumulate_state, as it starts a serialised state. */
typedef struct rk_accumulate_head {
  uint64_t count;
  uint32_t samples;
  uint32_t reserved_;
} rk_accumulate_head;
RK_STATIC_ASSERT (offsetof (rk_accumulate_state, sum) == sizeof (rk_accumulate_head),
    "rk_accumulate_head matches rk_accumulate_state");

/* Check a serialised accumulate state (as a snapshot holds it) and read its head. Returns an
 * enum rk_status. Shared by every backend that restores one. */
uint32_t rk_accumulate_check (const uint8_t *buf, uint64_t len, rk_accumulate_head *head);

unsigned rk_handler_count (void);
const rk_handler *rk_handler_at (unsigned i);
const rk_handler *rk_handler_find (const char *name);
const rk_handler *rk_handler_by_id (uint32_t id);
/* The description of a user handler (a kernel file, GPU backends only): any caps, parameters p0..p7
 * (default 0), no C function (the code is the user's, compiled for the device). */
const rk_handler *rk_handler_user (void);
/* Bytes of state an actor of h starting with params needs (0: none, or params out of range when
 * h->state_size_for says so). */
size_t rk_handler_state_size (const rk_handler *h, const double *params);
/* Is SET_PARAM of parameter i to v acceptable? */
int rk_handler_param_ok (const rk_handler *h, uint32_t i, double v);
/* Index of a parameter by name, or -1. */
int rk_handler_param_index (const rk_handler *h, const char *name);
/* Fill params[] with the defaults. */
void rk_handler_default_params (const rk_handler *h, double params[RK_MAX_PARAMS]);

/* Direct references used by tests, one per handler, with no actor around them. */
void rk_ref_scale_f32 (const float *x, float *y, size_t n, double a, double b);
void rk_ref_stencil_f32 (const float *x, float *y, size_t n, double l, double c, double r);

const char *rk_status_name (uint32_t status);
const char *rk_state_name (uint32_t state);
const char *rk_cmd_name (uint32_t cmd);

#ifdef __cplusplus
}
#endif

#endif /* RK_HANDLERS_H */
