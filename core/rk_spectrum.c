/* gst-ringkernel: the audio spectrum, C reference and host plan (see rk_spectrum.h). */
#include "rk_spectrum.h"

#include <math.h>
#include <string.h>

#include "rk_handlers.h"

#define SECOND_NS 1000000000ull

static uint64_t
align_up (uint64_t v)
{
  return (v + RK_ARENA_ALIGN - 1) / RK_ARENA_ALIGN * RK_ARENA_ALIGN;
}

uint32_t
rk_spectrum_factor (uint32_t M, uint32_t *factors)
{
  uint32_t n = 0;
  while (M % 4 == 0 && M > 1) {
    if (n == RK_SPECTRUM_MAX_FACTORS)
      return 0;
    factors[n++] = 4;
    M /= 4;
  }
  for (uint32_t p = 2; M > 1; p = p == 2 ? 3 : p + 2) {
    if ((uint64_t) p * p > M)
      p = M; /* what is left is prime */
    while (M % p == 0) {
      if (n == RK_SPECTRUM_MAX_FACTORS)
        return 0;
      factors[n++] = p;
      M /= p;
    }
  }
  return n;
}

int
rk_spectrum_layout (const double *params, rk_spectrum_state *s)
{
  const double pb = params[RK_SPECTRUM_P_BANDS], pc = params[RK_SPECTRUM_P_CHANNELS];
  if (!(pb >= 2 && pb <= RK_SPECTRUM_MAX_BANDS && pc >= 1 && pc <= RK_SPECTRUM_MAX_CHANNELS))
    return 0;
  memset (s, 0, sizeof *s);
  s->bands = (uint32_t) pb;
  s->channels = (uint32_t) pc;
  s->nfft = 2 * s->bands - 2;
  s->half = s->bands - 1;
  s->n_factors = rk_spectrum_factor (s->half, s->factors);
  if (s->half > 1 && s->n_factors == 0)
    return 0;
  const uint64_t per_fft = (uint64_t) s->channels * 2 * s->bands * sizeof (double);
  uint64_t batch = (4ull << 20) / per_fft;
  s->batch = (uint32_t) (batch < 1 ? 1 : batch > RK_SPECTRUM_MAX_EVENTS ? RK_SPECTRUM_MAX_EVENTS : batch);

  uint64_t off = RK_SPECTRUM_DATA_OFF;
  s->window_off = off;
  off = align_up (off + (uint64_t) s->nfft * sizeof (double));
  s->twiddle_off = off;
  off = align_up (off + (uint64_t) s->nfft * sizeof (rk_cf));
  s->ring_off = off;
  off = align_up (off + (uint64_t) s->channels * s->nfft * sizeof (float));
  s->mag_off = off;
  off = align_up (off + (uint64_t) s->channels * s->bands * sizeof (float));
  s->phase_off = off;
  off = align_up (off + (uint64_t) s->channels * s->bands * sizeof (float));
  s->work_off = off;
  off = align_up (off + 2ull * s->half * sizeof (rk_cf) + (uint64_t) s->nfft * sizeof (float)
      + (uint64_t) s->bands * sizeof (rk_cf));
  s->values_off = off;
  off = align_up (off + s->batch * per_fft);
  s->command_off = off;
  off = align_up (off + RK_SPECTRUM_MAX_COMMAND);
  s->index_off = off;
  off = align_up (off + RK_SPECTRUM_MAX_EVENTS * sizeof (uint32_t));
  s->size = off;
  return off <= RK_SPECTRUM_MAX_STATE;
}

size_t
rk_spectrum_state_size (const double *params)
{
  rk_spectrum_state s;
  return rk_spectrum_layout (params, &s) ? (size_t) s.size : 0;
}

uint32_t
rk_spectrum_command_size (uint32_t format, uint32_t channels, uint32_t frames, uint32_t n_events)
{
  const uint64_t off = (sizeof (rk_spectrum_cmd) + (uint64_t) n_events * sizeof (rk_spectrum_event) + 7)
      / 8 * 8;
  const uint64_t len = off + (uint64_t) frames * channels * rk_spectrum_bps (format);
  return len > UINT32_MAX ? UINT32_MAX : (uint32_t) len;
}

uint32_t
rk_spectrum_command_write (uint8_t *buf, const rk_spectrum_cmd *head, const rk_spectrum_event *events,
    uint32_t n_events, const void *samples)
{
  const uint32_t len = rk_spectrum_command_size (head->format, head->channels, head->frames, n_events);
  rk_spectrum_cmd c = *head;
  c.op = RK_SPECTRUM_ANALYSE;
  c.n_events = n_events;
  c.data_off = (uint32_t) ((sizeof c + (uint64_t) n_events * sizeof *events + 7) / 8 * 8);
  memcpy (buf, &c, sizeof c);
  memcpy (buf + sizeof c, events, (size_t) n_events * sizeof *events);
  memset (buf + sizeof c + (size_t) n_events * sizeof *events, 0,
      c.data_off - sizeof c - (size_t) n_events * sizeof *events);
  memcpy (buf + c.data_off, samples, len - c.data_off);
  return len;
}

#define AREA(s, off, type) ((type *) (void *) ((uint8_t *) (s) + (s)->off))

static void
spectrum_init (void *state, const double *params)
{
  rk_spectrum_state *s = state, head;
  if (!rk_spectrum_layout (params, &head))
    return;
  memset (s, 0, head.values_off);
  *s = head;
  double *win = AREA (s, window_off, double);
  rk_cf *tw = AREA (s, twiddle_off, rk_cf);
  for (uint32_t i = 0; i < s->nfft; i++) {
    /* the Hamming window exactly as GStreamer's gst_fft_f32_window () computes it */
    win[i] = 0.53836 - 0.46164 * cos (2.0 * M_PI * i / s->nfft);
    const double a = -2.0 * M_PI * (double) i / s->nfft;
    tw[i].re = (float) cos (a);
    tw[i].im = (float) sin (a);
  }
}

void
rk_ref_spectrum_fft (rk_spectrum_state *s, const float *x, rk_cf *bins)
{
  const uint32_t M = s->half;
  const rk_cf *tw = AREA (s, twiddle_off, rk_cf);
  rk_cf *a = AREA (s, work_off, rk_cf), *b = a + M;
  for (uint32_t n = 0; n < M; n++) {
    a[n].re = x[2 * n];
    a[n].im = x[2 * n + 1];
  }
  uint32_t Ns = 1;
  for (uint32_t f = 0; f < s->n_factors; f++) {
    const uint32_t R = s->factors[f];
    for (uint32_t o = 0; o < M; o++)
      b[o] = rk_fft_stage_out (a, tw, M, R, Ns, o);
    Ns *= R;
    rk_cf *t = a;
    a = b;
    b = t;
  }
  for (uint32_t k = 0; k <= M; k++)
    bins[k] = rk_fft_real_bin (a, tw, M, k);
}

/* The analysed value of virtual frame v (< 0: from the ring) of channel c. */
static float
virtual_input (const rk_spectrum_state *s, const rk_spectrum_cmd *c, const uint8_t *data, int64_t v,
    uint32_t ch)
{
  if (v < 0) {
    const float *ring = AREA (s, ring_off, const float) + (size_t) ch * s->nfft;
    return ring[(s->pos + s->nfft + v) % s->nfft];
  }
  return rk_spectrum_input (data, c->format, c->channels, (c->flags & RK_SPECTRUM_F_MIX) != 0,
      (uint32_t) v, ch);
}

uint32_t
rk_spectrum_read (const uint8_t *in, uint32_t len, uint32_t bands, uint32_t channels, uint32_t out_cap,
    rk_spectrum_cmd *c, const rk_spectrum_event **ev, uint32_t *out_len)
{
  *out_len = 0;
  if (len < sizeof *c)
    return RK_STATUS_INVALID;
  memcpy (c, in, sizeof *c);
  if (c->n_events > RK_SPECTRUM_MAX_EVENTS || len < sizeof *c + (uint64_t) c->n_events * sizeof **ev)
    return RK_STATUS_INVALID;
  *ev = (const rk_spectrum_event *) (const void *) (in + sizeof *c);
  return rk_spectrum_check (c, *ev, len, bands, channels, out_cap, out_len);
}

static uint32_t
spectrum_process (void *state, const double *params, const uint8_t *in, uint32_t in_len,
    uint8_t *out, uint32_t out_cap, uint32_t *out_len)
{
  rk_spectrum_state *s = state;
  rk_spectrum_cmd c;
  const rk_spectrum_event *ev;
  *out_len = 0;
  uint32_t len = 0, st = rk_spectrum_read (in, in_len, s->bands, s->channels, out_cap, &c, &ev, &len);
  if (st != RK_STATUS_OK)
    return st;
  *out_len = len;

  const uint8_t *data = in + c.data_off;
  const uint32_t nfft = s->nfft, bands = s->bands, C = s->channels;
  float *mag = AREA (s, mag_off, float), *ph = AREA (s, phase_off, float);
  float *ring = AREA (s, ring_off, float);
  const double *win = AREA (s, window_off, const double);
  /* the work area: the FFT's two buffers, then the windowed frame and its bins */
  float *x = (float *) (void *) (AREA (s, work_off, rk_cf) + 2 * s->half);
  rk_cf *bins = (rk_cf *) (void *) (x + nfft);
  float *o = (float *) (void *) out;

  if (c.flags & RK_SPECTRUM_F_RESTART) {
    memset (mag, 0, (size_t) C * bands * sizeof (float));
    memset (ph, 0, (size_t) C * bands * sizeof (float));
    s->num_fft = 0;
  }
  for (uint32_t e = 0; e < c.n_events; e++) {
    if (ev[e].kind & RK_SPECTRUM_EV_FFT) {
      /* (nothing asked for: the FFT only counts) */
      for (uint32_t ch = 0; ch < C && (c.flags & (RK_SPECTRUM_F_MAGNITUDE | RK_SPECTRUM_F_PHASE)); ch++) {
        for (uint32_t i = 0; i < nfft; i++)
          x[i] = rk_spectrum_windowed (
              virtual_input (s, &c, data, (int64_t) ev[e].at - nfft + i, ch), win[i]);
        rk_ref_spectrum_fft (s, x, bins);
        for (uint32_t k = 0; k < bands; k++) {
          if (c.flags & RK_SPECTRUM_F_MAGNITUDE) {
            double db = 10.0 * log10 (rk_spectrum_power (bins[k], nfft));
            if (db < c.threshold)
              db = c.threshold;
            mag[ch * bands + k] = rk_spectrum_sum (mag[ch * bands + k], db);
          }
          if (c.flags & RK_SPECTRUM_F_PHASE)
            ph[ch * bands + k] = rk_spectrum_sum (ph[ch * bands + k], atan2 (bins[k].im, bins[k].re));
        }
      }
      s->num_fft++;
    }
    if (ev[e].kind & RK_SPECTRUM_EV_END) {
      const float n = (float) s->num_fft;
      if (c.flags & RK_SPECTRUM_F_MAGNITUDE)
        for (uint32_t i = 0; i < C * bands; i++)
          *o++ = rk_fdiv (mag[i], n);
      if (c.flags & RK_SPECTRUM_F_PHASE)
        for (uint32_t i = 0; i < C * bands; i++)
          *o++ = rk_fdiv (ph[i], n);
      memset (mag, 0, (size_t) C * bands * sizeof (float));
      memset (ph, 0, (size_t) C * bands * sizeof (float));
      s->num_fft = 0;
    }
  }
  /* the ring keeps the last nfft frames */
  const uint32_t first = c.frames > nfft ? c.frames - nfft : 0;
  for (uint32_t ch = 0; ch < C; ch++)
    for (uint32_t v = first; v < c.frames; v++)
      ring[(size_t) ch * nfft + (s->pos + v) % nfft] = rk_spectrum_input (data, c.format, c.channels,
          (c.flags & RK_SPECTRUM_F_MIX) != 0, v, ch);
  s->pos = (uint32_t) ((s->pos + (uint64_t) c.frames) % nfft);
  return RK_STATUS_OK;
}

/* A checkpoint holds the state up to the values area: header, tables, ring and sums. */
static uint64_t
spectrum_save (const void *state, uint8_t *buf, uint64_t cap, uint32_t *status)
{
  const rk_spectrum_state *s = state;
  if (cap < s->values_off) {
    *status = RK_STATUS_TOO_LARGE;
    return s->values_off;
  }
  memcpy (buf, s, s->values_off);
  return s->values_off;
}

static uint32_t
spectrum_load (void *state, const uint8_t *buf, uint64_t len)
{
  rk_spectrum_state *s = state, head;
  if (len < sizeof head)
    return RK_STATUS_BAD_CHECKPOINT;
  memcpy (&head, buf, sizeof head);
  if (head.bands != s->bands || head.channels != s->channels || head.values_off != s->values_off
      || len != s->values_off || head.pos >= s->nfft)
    return RK_STATUS_BAD_CHECKPOINT;
  memcpy (s, buf, len);
  return RK_STATUS_OK;
}

const rk_handler rk_spectrum_handler = {
  .name = "spectrum",
  .id = RK_KERNEL_SPECTRUM,
  .blurb = "an audio spectrum (FFT) whose window and sums live in the actor (rkspectrum)",
  .caps = NULL,
  .unit = 1,
  .n_params = RK_SPECTRUM_N_PARAMS,
  .params = {
    { "bands", "frequency bands (FFT of 2 * bands - 2 frames)", 128, 2, RK_SPECTRUM_MAX_BANDS },
    { "channels", "channels analysed (1 when the audio's channels are averaged)", 1, 1,
        RK_SPECTRUM_MAX_CHANNELS },
  },
  .fixed_params = RK_SPECTRUM_FIXED_PARAMS,
  .state_size_for = rk_spectrum_state_size,
  .init = spectrum_init,
  .process = spectrum_process,
  .save = spectrum_save,
  .load = spectrum_load,
};

/* ---- the plan ---- */

void
rk_spectrum_planner_init (rk_spectrum_planner *p, uint32_t bands, uint64_t interval_ns, uint32_t rate)
{
  memset (p, 0, sizeof *p);
  p->nfft = 2 * bands - 2;
  /* interval * rate / second without overflow, rounded down */
  p->frames_per_interval = (uint64_t) (((unsigned __int128) interval_ns * rate) / SECOND_NS);
  p->frames_todo = p->frames_per_interval;
  p->error_per_interval = (uint64_t) (((unsigned __int128) interval_ns * rate) % SECOND_NS);
  if (p->frames_per_interval == 0)
    p->frames_per_interval = 1;
}

void
rk_spectrum_planner_flush (rk_spectrum_planner *p)
{
  p->num_frames = 0;
  p->num_fft = 0;
  p->accumulated_error = 0;
}

uint32_t
rk_spectrum_plan (rk_spectrum_planner *p, uint32_t frames, rk_spectrum_event *events, uint32_t cap,
    uint32_t *n_events, uint64_t *interval_frames)
{
  uint32_t done = 0, n = 0;
  /* The loop of `spectrum`: read up to the next FFT or the interval's end, whichever is first. An
   * interval shorter than a frame gives a first pass that reads nothing. */
  while (done < frames && n < cap) {
    const uint64_t fft_todo = p->nfft - p->num_frames % p->nfft;
    uint64_t block = p->frames_todo - p->num_frames;
    if (block > frames - done)
      block = frames - done;
    if (block > fft_todo)
      block = fft_todo;
    done += (uint32_t) block;
    p->num_frames += block;
    const int full = p->num_frames == p->frames_todo;
    uint32_t kind = 0;
    if (p->num_frames % p->nfft == 0 || (full && p->num_fft == 0)) {
      kind |= RK_SPECTRUM_EV_FFT;
      p->num_fft++;
    }
    if (full) {
      kind |= RK_SPECTRUM_EV_END;
      if (interval_frames)
        interval_frames[n] = p->num_frames; /* indexed by the event */
      p->frames_todo = p->frames_per_interval;
      if (p->accumulated_error >= SECOND_NS) {
        p->accumulated_error -= SECOND_NS;
        p->frames_todo++;
      }
      p->accumulated_error += p->error_per_interval;
      p->num_frames = 0;
      p->num_fft = 0;
    }
    if (kind) {
      events[n].at = done;
      events[n].kind = kind;
      n++;
    }
  }
  *n_events = n;
  return done;
}
