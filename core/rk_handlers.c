/* gst-ringkernel: built-in handlers (C reference). */
#include "rk_handlers.h"

#include <math.h>
#include <string.h>

/* ---- echo: the payload, unchanged ---- */

static uint32_t
echo_process (void *state, const double *params, const uint8_t *in, uint32_t in_len, uint8_t *out,
    uint32_t out_cap, uint32_t *out_len)
{
  (void) state;
  (void) params;
  if (out_cap < in_len)
    return RK_STATUS_TOO_LARGE;
  memcpy (out, in, in_len);
  *out_len = in_len;
  return RK_STATUS_OK;
}

/* An element-wise float32 handler's payload: whole samples, and room for as many out. */
static uint32_t
f32_lengths (uint32_t in_len, uint32_t out_cap)
{
  if (out_cap < in_len)
    return RK_STATUS_TOO_LARGE;
  if (in_len % sizeof (float))
    return RK_STATUS_INVALID;
  return RK_STATUS_OK;
}

/* ---- scale: y = a * x + b on float32 samples ---- */

void
rk_ref_scale_f32 (const float *x, float *y, size_t n, double a, double b)
{
  const float fa = (float) a, fb = (float) b;
  for (size_t i = 0; i < n; i++)
    y[i] = fa * x[i] + fb;
}

static uint32_t
scale_process (void *state, const double *params, const uint8_t *in, uint32_t in_len, uint8_t *out,
    uint32_t out_cap, uint32_t *out_len)
{
  (void) state;
  uint32_t st = f32_lengths (in_len, out_cap);
  if (st != RK_STATUS_OK)
    return st;
  size_t n = in_len / sizeof (float);
  /* in and out may be unaligned (inline payloads): go through memcpy */
  const float fa = (float) params[0], fb = (float) params[1];
  for (size_t i = 0; i < n; i++) {
    float x, y;
    memcpy (&x, in + 4 * i, 4);
    y = fa * x + fb;
    memcpy (out + 4 * i, &y, 4);
  }
  *out_len = in_len;
  return RK_STATUS_OK;
}

/* ---- levels: y = clamp(a * x + b) on 16-bit samples (GRAY16_LE frames) ---- */

static uint32_t
levels_process (void *state, const double *params, const uint8_t *in, uint32_t in_len, uint8_t *out,
    uint32_t out_cap, uint32_t *out_len)
{
  (void) state;
  if (out_cap < in_len)
    return RK_STATUS_TOO_LARGE;
  if (in_len % 2)
    return RK_STATUS_INVALID;
  const float fa = (float) params[0], fb = (float) params[1];
  for (uint32_t i = 0; i < in_len; i += 2) {
    const uint16_t y = rk_levels_u16 ((uint32_t) in[i] | (uint32_t) in[i + 1] << 8, fa, fb);
    out[i] = (uint8_t) y;
    out[i + 1] = (uint8_t) (y >> 8);
  }
  *out_len = in_len;
  return RK_STATUS_OK;
}

/* ---- stencil: a 3-point stencil over a float32 array, edges clamped ---- */

static inline float
ld_f32 (const uint8_t *p, size_t i)
{
  float x;
  memcpy (&x, p + 4 * i, 4);
  return x;
}

void
rk_ref_stencil_f32 (const float *x, float *y, size_t n, double l, double c, double r)
{
  const float fl = (float) l, fc = (float) c, fr = (float) r;
  for (size_t i = 0; i < n; i++) {
    const float xl = x[i > 0 ? i - 1 : 0], xr = x[i + 1 < n ? i + 1 : n - 1];
    y[i] = (fl * xl + fc * x[i]) + fr * xr;
  }
}

static uint32_t
stencil_process (void *state, const double *params, const uint8_t *in, uint32_t in_len, uint8_t *out,
    uint32_t out_cap, uint32_t *out_len)
{
  (void) state;
  uint32_t st = f32_lengths (in_len, out_cap);
  if (st != RK_STATUS_OK)
    return st;
  const size_t n = in_len / sizeof (float);
  const float fl = (float) params[0], fc = (float) params[1], fr = (float) params[2];
  /* in and out may be unaligned (inline payloads): go through memcpy */
  for (size_t i = 0; i < n; i++) {
    const float xl = ld_f32 (in, i > 0 ? i - 1 : 0), xr = ld_f32 (in, i + 1 < n ? i + 1 : n - 1);
    const float y = (fl * xl + fc * ld_f32 (in, i)) + fr * xr;
    memcpy (out + 4 * i, &y, 4);
  }
  *out_len = in_len;
  return RK_STATUS_OK;
}

/* ---- accumulate: per-sample running mean over every buffer seen ---- */

static void
accumulate_init (void *state, const double *params)
{
  rk_accumulate_state *s = state;
  (void) params;
  s->count = 0;
  s->samples = 0;
  s->reserved_ = 0;
  /* sum[] is cleared when the first buffer sets `samples` */
}

static uint32_t
accumulate_process (void *state, const double *params, const uint8_t *in, uint32_t in_len,
    uint8_t *out, uint32_t out_cap, uint32_t *out_len)
{
  rk_accumulate_state *s = state;
  (void) params;
  if (in_len % sizeof (float))
    return RK_STATUS_INVALID;
  uint32_t n = in_len / sizeof (float);
  if (n > RK_ACCUMULATE_MAX_SAMPLES || out_cap < in_len)
    return RK_STATUS_TOO_LARGE;
  if (n != s->samples) {
    s->samples = n;
    s->count = 0;
    memset (s->sum, 0, n * sizeof (double));
  }
  s->count++;
  const double inv = 1.0 / (double) s->count;
  for (uint32_t i = 0; i < n; i++) {
    float x, y;
    memcpy (&x, in + 4 * i, 4);
    s->sum[i] += x;
    y = (float) (s->sum[i] * inv);
    memcpy (out + 4 * i, &y, 4);
  }
  *out_len = in_len;
  return RK_STATUS_OK;
}

static uint64_t
accumulate_save (const void *state, uint8_t *buf, uint64_t cap, uint32_t *status)
{
  const rk_accumulate_state *s = state;
  uint64_t len = offsetof (rk_accumulate_state, sum) + (uint64_t) s->samples * sizeof (double);
  if (cap < len) {
    *status = RK_STATUS_TOO_LARGE;
    return len;
  }
  memcpy (buf, s, len);
  return len;
}

uint32_t
rk_accumulate_check (const uint8_t *buf, uint64_t len, rk_accumulate_head *head)
{
  if (len < sizeof *head)
    return RK_STATUS_BAD_CHECKPOINT;
  memcpy (head, buf, sizeof *head);
  if (head->samples > RK_ACCUMULATE_MAX_SAMPLES
      || len != sizeof *head + (uint64_t) head->samples * sizeof (double))
    return RK_STATUS_BAD_CHECKPOINT;
  return RK_STATUS_OK;
}

static uint32_t
accumulate_load (void *state, const uint8_t *buf, uint64_t len)
{
  rk_accumulate_head head;
  uint32_t st = rk_accumulate_check (buf, len, &head);
  if (st == RK_STATUS_OK)
    memcpy (state, buf, len);
  return st;
}

#define F32_CAPS "audio/x-raw, format=(string)F32LE, layout=(string)interleaved"

static const rk_handler echo_handler = {
  .name = "echo",
  .id = RK_KERNEL_ECHO,
  .blurb = "returns the payload unchanged (latency probe)",
  .caps = "ANY",
  .unit = 1,
  .process = echo_process,
};

static const rk_handler scale_handler = {
  .name = "scale",
  .id = RK_KERNEL_SCALE,
  .blurb = "float32 samples: y = a*x + b",
  .caps = F32_CAPS,
  .unit = 4,
  .n_params = 2,
  .params = {
    { "a", "gain", 1.0, -1e30, 1e30 },
    { "b", "offset", 0.0, -1e30, 1e30 },
  },
  .process = scale_process,
};

static const rk_handler stencil_handler = {
  .name = "stencil",
  .id = RK_KERNEL_STENCIL,
  .blurb = "float32 arrays: y[i] = l*x[i-1] + c*x[i] + r*x[i+1], edges clamped (a smoothing step)",
  .caps = F32_CAPS,
  .unit = 4,
  .n_params = 3,
  .params = {
    { "l", "weight of the left neighbour", 0.25, -1e30, 1e30 },
    { "c", "weight of the sample itself", 0.5, -1e30, 1e30 },
    { "r", "weight of the right neighbour", 0.25, -1e30, 1e30 },
  },
  .process = stencil_process,
};

static const rk_handler levels_handler = {
  .name = "levels",
  .id = RK_KERNEL_LEVELS,
  .blurb = "16-bit grey frames: y = a*x + b, clamped to 0..65535 and rounded (contrast, brightness)",
  .caps = "video/x-raw, format=(string)GRAY16_LE",
  .unit = 2,
  .n_params = 2,
  .params = {
    { "a", "gain", 1.0, -1e30, 1e30 },
    { "b", "offset, in sample values", 0.0, -1e30, 1e30 },
  },
  .process = levels_process,
};

static const rk_handler accumulate_handler = {
  .name = "accumulate",
  .id = RK_KERNEL_ACCUMULATE,
  .blurb = "float32 arrays: per-sample running mean over every buffer seen (state in the actor)",
  .caps = F32_CAPS,
  .unit = 4,
  .state_size = sizeof (rk_accumulate_state),
  .init = accumulate_init,
  .process = accumulate_process,
  .save = accumulate_save,
  .load = accumulate_load,
};

extern const rk_handler rk_wave_handler; /* rk_wave.c */
extern const rk_handler rk_spectrum_handler; /* rk_spectrum.c */

static const rk_handler *const handlers[] = {
  &echo_handler, &scale_handler, &stencil_handler, &accumulate_handler, &rk_wave_handler,
  &rk_spectrum_handler, &levels_handler,
};

static const rk_handler user_handler = {
  .name = "user",
  .id = RK_KERNEL_USER,
  .blurb = "a handler from a kernel file, compiled for the device at run time",
  .caps = "ANY",
  .unit = 1,
  .n_params = RK_MAX_PARAMS,
  .params = {
    { "p0", "user parameter 0", 0.0, -1e30, 1e30 },
    { "p1", "user parameter 1", 0.0, -1e30, 1e30 },
    { "p2", "user parameter 2", 0.0, -1e30, 1e30 },
    { "p3", "user parameter 3", 0.0, -1e30, 1e30 },
    { "p4", "user parameter 4", 0.0, -1e30, 1e30 },
    { "p5", "user parameter 5", 0.0, -1e30, 1e30 },
    { "p6", "user parameter 6", 0.0, -1e30, 1e30 },
    { "p7", "user parameter 7", 0.0, -1e30, 1e30 },
  },
};

const rk_handler *
rk_handler_user (void)
{
  return &user_handler;
}

unsigned
rk_handler_count (void)
{
  return sizeof handlers / sizeof handlers[0];
}

const rk_handler *
rk_handler_at (unsigned i)
{
  return i < rk_handler_count () ? handlers[i] : NULL;
}

const rk_handler *
rk_handler_find (const char *name)
{
  if (!name)
    return NULL;
  for (unsigned i = 0; i < rk_handler_count (); i++)
    if (strcmp (handlers[i]->name, name) == 0)
      return handlers[i];
  return NULL;
}

const rk_handler *
rk_handler_by_id (uint32_t id)
{
  for (unsigned i = 0; i < rk_handler_count (); i++)
    if (handlers[i]->id == id)
      return handlers[i];
  return NULL;
}

size_t
rk_handler_state_size (const rk_handler *h, const double *params)
{
  return h->state_size_for ? h->state_size_for (params) : h->state_size;
}

int
rk_handler_param_ok (const rk_handler *h, uint32_t i, double v)
{
  return i < h->n_params && !(h->fixed_params & (1u << i)) && !isnan (v) && v >= h->params[i].min
      && v <= h->params[i].max;
}

int
rk_handler_param_index (const rk_handler *h, const char *name)
{
  for (uint32_t i = 0; i < h->n_params; i++)
    if (strcmp (h->params[i].name, name) == 0)
      return (int) i;
  return -1;
}

void
rk_handler_default_params (const rk_handler *h, double params[RK_MAX_PARAMS])
{
  for (uint32_t i = 0; i < RK_MAX_PARAMS; i++)
    params[i] = i < h->n_params ? h->params[i].def : 0.0;
}

const char *
rk_status_name (uint32_t status)
{
  switch (status) {
    case RK_STATUS_OK: return "ok";
    case RK_STATUS_UNSUPPORTED: return "not supported by this backend";
    case RK_STATUS_INVALID: return "invalid record";
    case RK_STATUS_TOO_LARGE: return "payload too large";
    case RK_STATUS_UNKNOWN_CMD: return "unknown command";
    case RK_STATUS_BAD_CHECKPOINT: return "bad checkpoint";
    case RK_STATUS_FAULT: return "actor fault";
    case RK_STATUS_CANCELLED: return "cancelled";
    case RK_STATUS_CLOSED: return "link closed downstream";
    case RK_STATUS_NO_ROUTE: return "no route installed";
    case RK_STATUS_NOT_RESIDENT: return "the actor's blocks could not all run at once";
    default: return "unknown status";
  }
}

const char *
rk_state_name (uint32_t state)
{
  static const char *const names[RK_STATE_COUNT_] = {
    "none", "launched", "active", "paused", "draining", "terminated", "failed",
  };
  return state < RK_STATE_COUNT_ ? names[state] : "invalid";
}

const char *
rk_cmd_name (uint32_t cmd)
{
  static const char *const names[RK_CMD_COUNT_] = {
    "none", "process", "set-param", "pause", "resume", "drain", "snapshot", "restore", "terminate",
    "link", "inbox",
  };
  return cmd < RK_CMD_COUNT_ ? names[cmd] : "unknown";
}
