/* gst-ringkernel: the spectrum handler (core/rk_spectrum.[ch]): its FFT against a direct DFT, its plan,
 * its answers against a straightforward model of the whole stream, a tone against its closed form,
 * and the actor on the CPU backend against the reference. */
#include <math.h>

#include "rk_test.h"
#include "rk_backend.h"
#include "spectrum_check.h"

static rk_spectrum_state *
new_state (uint32_t bands, uint32_t channels, double *params)
{
  const rk_handler *h = rk_handler_find ("spectrum");
  rk_handler_default_params (h, params);
  params[RK_SPECTRUM_P_BANDS] = bands;
  params[RK_SPECTRUM_P_CHANNELS] = channels;
  const size_t size = rk_handler_state_size (h, params);
  CHECK_GT_U (size, 0);
  rk_spectrum_state *s = aligned_alloc (RK_ARENA_ALIGN, (size + RK_ARENA_ALIGN - 1) / RK_ARENA_ALIGN * RK_ARENA_ALIGN);
  CHECK (s != NULL);
  h->init (s, params);
  return s;
}

static void
test_factors (void)
{
  uint32_t f[RK_SPECTRUM_MAX_FACTORS];
  static const uint32_t ms[] = { 1, 2, 3, 4, 12, 127, 128, 999, 1023, 1024, 4096, 30030, 65537 };
  for (unsigned i = 0; i < sizeof ms / sizeof ms[0]; i++) {
    uint32_t n = rk_spectrum_factor (ms[i], f), prod = 1;
    for (uint32_t k = 0; k < n; k++) {
      prod *= f[k];
      if (k > 0 && f[k - 1] != 4)
        CHECK (f[k] >= f[k - 1]); /* fours first, then ascending */
    }
    CHECK_EQ_U (prod, ms[i]);
  }
  CHECK_EQ_U (rk_spectrum_factor (1023, f), 3);
  CHECK_EQ_U (f[0] * 1000 + f[1] * 100 + f[2], 3 * 1000 + 11 * 100 + 31);
}

/* The FFT against a direct DFT in double precision, on random frames. */
static void
test_fft (rk_test_rng *rng)
{
  static const uint32_t bands[] = { 2, 3, 5, 9, 17, 33, 128, 129, 257, 1000, 1024 };
  for (unsigned b = 0; b < sizeof bands / sizeof bands[0]; b++) {
    double params[RK_MAX_PARAMS];
    rk_spectrum_state *s = new_state (bands[b], 1, params);
    const uint32_t nfft = s->nfft;
    float *x = malloc (nfft * sizeof *x);
    rk_cf *X = malloc ((nfft / 2 + 1) * sizeof *X);
    for (uint32_t i = 0; i < nfft; i++)
      x[i] = (float) (2.0 * (double) (rk_test_next (rng) >> 11) / 9007199254740992.0 - 1);
    rk_ref_spectrum_fft (s, x, X);
    double worst = 0, peak = 0;
    for (uint32_t k = 0; k <= nfft / 2; k++) {
      double re = 0, im = 0;
      for (uint32_t n = 0; n < nfft; n++) {
        const double a = -2 * M_PI * (double) ((uint64_t) k * n % nfft) / nfft;
        re += x[n] * cos (a);
        im += x[n] * sin (a);
      }
      const double d = hypot (X[k].re - re, X[k].im - im);
      worst = d > worst ? d : worst;
      peak = hypot (re, im) > peak ? hypot (re, im) : peak;
    }
    printf ("   bands %u (nfft %u, %u stages): worst error %.2e of the largest bin\n", bands[b], nfft,
        s->n_factors, worst / peak);
    CHECK_MSG (worst <= 2e-6 * peak * (1 + log2 (nfft)), "bands %u: %.3g of %.3g", bands[b], worst, peak);
    CHECK (X[0].im == 0.0f && X[nfft / 2].im == 0.0f);
    free (x);
    free (X);
    free (s);
  }
}

/* The plan does not depend on how the stream is cut, and intervals add up to the time. */
static void
test_plan (rk_test_rng *rng)
{
  static const struct { uint32_t bands, rate; uint64_t interval; } cases[] = {
    { 128, 48000, 100000000 }, { 128, 44100, 333333333 }, { 1024, 44100, 10000000 },
    { 5, 8000, 100000 }, { 64, 96000, 1000 } /* shorter than a frame */,
  };
  for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const uint32_t total = 3 * cases[c].rate + 17;
    rk_spectrum_event *whole = malloc (sizeof *whole * (total + 2)), *part = malloc (sizeof *part * 64);
    uint64_t *len = malloc (sizeof *len * (total + 2)), lens[64];
    rk_spectrum_planner p, q;
    rk_spectrum_planner_init (&p, cases[c].bands, cases[c].interval, cases[c].rate);
    rk_spectrum_planner_init (&q, cases[c].bands, cases[c].interval, cases[c].rate);
    uint32_t n = 0;
    CHECK_EQ_U (rk_spectrum_plan (&p, total, whole, total + 2, &n, len), total);
    /* the same stream in random pieces, with few events per call */
    uint32_t k = 0, at = 0;
    while (at < total) {
      uint32_t m = 0, want = 1 + rk_test_next (rng) % 3000;
      if (want > total - at)
        want = total - at;
      const uint32_t got = rk_spectrum_plan (&q, want, part, 1 + rk_test_next (rng) % 64, &m, lens);
      CHECK (got <= want);
      for (uint32_t i = 0; i < m; i++, k++) {
        CHECK (k < n);
        CHECK_EQ_U (part[i].at + at, whole[k].at);
        CHECK_EQ_U (part[i].kind, whole[k].kind);
        if (part[i].kind & RK_SPECTRUM_EV_END)
          CHECK_EQ_U (lens[i], len[k]);
      }
      at += got;
    }
    CHECK_EQ_U (k, n);
    /* intervals: the frames of the first j add up to j * interval * rate within three (the extra frame
     * that rounding owes is paid one interval late, as `spectrum` pays it) */
    uint64_t sum = 0, ends = 0, ffts = 0;
    for (uint32_t i = 0; i < n; i++) {
      ffts += (whole[i].kind & RK_SPECTRUM_EV_FFT) != 0;
      if (whole[i].kind & RK_SPECTRUM_EV_END) {
        sum += len[i];
        ends++;
        const double exact = (double) ends * cases[c].interval * cases[c].rate / 1e9;
        /* (an interval shorter than a frame takes one or two: `spectrum` does the same) */
        CHECK_MSG (cases[c].interval * cases[c].rate < 1000000000ull || fabs ((double) sum - exact) <= 3.0,
            "case %u, interval %" PRIu64 ": %" PRIu64 " frames, %.2f exact", c, ends, sum, exact);
      }
    }
    printf ("   bands %u, %u Hz, interval %" PRIu64 " ns: %" PRIu64 " intervals, %" PRIu64 " FFTs in %u frames\n",
        cases[c].bands, cases[c].rate, cases[c].interval, ends, ffts, total);
    CHECK_GT_U (ends, 0);
    free (whole);
    free (part);
    free (len);
  }
  /* 100 ms at 48 kHz with 128 bands: FFTs every 254 frames, the interval ends at 4800 without one */
  rk_spectrum_planner p;
  rk_spectrum_event ev[64];
  uint64_t len[64];
  uint32_t n = 0;
  rk_spectrum_planner_init (&p, 128, 100000000, 48000);
  CHECK_EQ_U (rk_spectrum_plan (&p, 4800, ev, 64, &n, len), 4800);
  CHECK_EQ_U (n, 4800 / 254 + 1);
  CHECK_EQ_U (ev[0].at, 254);
  CHECK_EQ_U (ev[n - 1].at, 4800);
  CHECK_EQ_U (ev[n - 1].kind, RK_SPECTRUM_EV_END);
  CHECK_EQ_U (len[n - 1], 4800);
}

/* The handler against a model of the whole stream: every FFT's window read from the stream itself
 * (zeros before it starts), a direct DFT in double precision, the sums and averages in double. */
static void
test_model (rk_test_rng *rng, uint32_t bands, uint32_t channels, int mix, uint32_t format)
{
  const rk_handler *h = rk_handler_find ("spectrum");
  const uint32_t out_ch = mix ? 1 : channels, rate = 16000, total = 9000;
  double params[RK_MAX_PARAMS];
  rk_spectrum_state *s = new_state (bands, out_ch, params);
  const uint32_t nfft = s->nfft, bps = rk_spectrum_bps (format);
  spectrum_rng r = { rk_test_next (rng) | 1 };
  const double freq[4] = { 440, 1234.5, 3000, 5100 };
  uint8_t *audio = malloc ((size_t) total * channels * bps);
  spectrum_make_audio (&r, format, channels, 0, total, rate, freq, audio);
  const uint64_t interval = 1000000000ull * (nfft / 2 + rk_test_next (rng) % (3 * nfft)) / rate;
  rk_spectrum_planner p;
  rk_spectrum_planner_init (&p, bands, interval, rate);
  const int32_t threshold = -70;
  const uint32_t flags = RK_SPECTRUM_F_MAGNITUDE | RK_SPECTRUM_F_PHASE | (mix ? RK_SPECTRUM_F_MIX : 0);

  /* the model */
  float *in = malloc ((size_t) out_ch * total * sizeof *in);
  for (uint32_t c = 0; c < out_ch; c++)
    for (uint32_t f = 0; f < total; f++)
      in[(size_t) c * total + f] = rk_spectrum_input (audio, format, channels, mix, f, c);
  const double *win = (const double *) (const void *) ((uint8_t *) s + s->window_off);
  double *msum = calloc ((size_t) out_ch * bands, sizeof *msum);
  double *psum = calloc ((size_t) out_ch * bands, sizeof *psum);
  uint32_t nf = 0;

  uint8_t *cmd = malloc (rk_spectrum_command_size (format, channels, total, RK_SPECTRUM_MAX_EVENTS));
  rk_spectrum_event *ev = malloc (RK_SPECTRUM_MAX_EVENTS * sizeof *ev);
  const uint32_t out_cap = 64u << 20;
  float *out = malloc (out_cap);
  double worst_db = 0, worst_rad = 0;
  uint32_t at = 0, intervals = 0;
  while (at < total) {
    uint32_t want = 1 + rk_test_next (rng) % (2 * nfft), n = 0;
    if (want > total - at)
      want = total - at;
    const uint32_t frames = rk_spectrum_plan (&p, want, ev, RK_SPECTRUM_MAX_EVENTS, &n, NULL);
    rk_spectrum_cmd c = { .format = format, .channels = channels, .frames = frames, .flags = flags,
      .threshold = threshold };
    const uint32_t len = rk_spectrum_command_write (cmd, &c, ev, n, audio + (size_t) at * channels * bps);
    uint32_t out_len = 0;
    CHECK_EQ_U (h->process (s, params, cmd, len, (uint8_t *) out, out_cap, &out_len), RK_STATUS_OK);
    const float *o = out;
    for (uint32_t e = 0; e < n; e++) {
      const int64_t end = (int64_t) at + ev[e].at;
      if (ev[e].kind & RK_SPECTRUM_EV_FFT) {
        for (uint32_t ch = 0; ch < out_ch; ch++)
          for (uint32_t k = 0; k < bands; k++) {
            double re = 0, im = 0;
            for (uint32_t i = 0; i < nfft; i++) {
              const int64_t f = end - nfft + i;
              const double v = f < 0 ? 0.0 : (double) rk_spectrum_windowed (in[(size_t) ch * total + f], win[i]);
              const double a = -2 * M_PI * (double) ((uint64_t) k * i % nfft) / nfft;
              re += v * cos (a);
              im += v * sin (a);
            }
            double db = 10 * log10 ((re * re + im * im) / ((double) nfft * nfft));
            msum[ch * bands + k] += db < threshold ? threshold : db;
            psum[ch * bands + k] += atan2 (im, re);
          }
        nf++;
      }
      if (ev[e].kind & RK_SPECTRUM_EV_END) {
        for (uint32_t i = 0; i < out_ch * bands; i++) {
          const double m = msum[i] / nf, d = fabs (o[i] - m);
          worst_db = d > worst_db ? d : worst_db;
          CHECK_MSG (d < 2e-3, "interval %u, value %u: %.6f dB, model %.6f", intervals, i, o[i], m);
          /* phases: where one FFT made them and the bin stands well above the noise */
          if (nf == 1 && m > threshold + 30) {
            double dp = fabs (o[out_ch * bands + i] - psum[i]);
            dp = dp > M_PI ? 2 * M_PI - dp : dp;
            worst_rad = dp > worst_rad ? dp : worst_rad;
            CHECK_MSG (dp < 1e-3, "interval %u, value %u: phase %.6f, model %.6f", intervals, i,
                o[out_ch * bands + i], psum[i]);
          }
        }
        o += 2 * out_ch * bands;
        memset (msum, 0, (size_t) out_ch * bands * sizeof *msum);
        memset (psum, 0, (size_t) out_ch * bands * sizeof *psum);
        nf = 0;
        intervals++;
      }
    }
    CHECK_EQ_U ((size_t) (o - out) * 4, out_len);
    at += frames;
  }
  printf ("   bands %u, %u channels%s, format %u: %u intervals, worst %.2e dB, %.2e rad\n", bands,
      channels, mix ? " averaged" : "", format, intervals, worst_db, worst_rad);
  CHECK_GT_U (intervals, 2);
  free (s);
  free (audio);
  free (in);
  free (msum);
  free (psum);
  free (cmd);
  free (ev);
  free (out);
}

/* A sine on a bin's centre: that band peaks at 20 log10 (A * 0.53836 / 2) dB (the window's mean is
 * 0.53836), its neighbours two bins away are far below. */
static void
test_tone (void)
{
  const uint32_t bands = 129, nfft = 256, k0 = 20, frames = 4 * nfft;
  double params[RK_MAX_PARAMS];
  rk_spectrum_state *s = new_state (bands, 1, params);
  float *audio = malloc (frames * sizeof *audio);
  for (uint32_t f = 0; f < frames; f++)
    audio[f] = (float) (0.5 * cos (2 * M_PI * k0 * f / nfft));
  rk_spectrum_event ev[4] = { { nfft, 1 }, { 2 * nfft, 1 }, { 3 * nfft, 1 }, { 4 * nfft, 3 } };
  rk_spectrum_cmd c = { .format = RK_SPECTRUM_F32, .channels = 1, .frames = frames,
    .flags = RK_SPECTRUM_F_MAGNITUDE, .threshold = -200 };
  uint8_t *cmd = malloc (rk_spectrum_command_size (RK_SPECTRUM_F32, 1, frames, 4));
  const uint32_t len = rk_spectrum_command_write (cmd, &c, ev, 4, audio);
  float out[129];
  uint32_t out_len = 0;
  CHECK_EQ_U (rk_handler_find ("spectrum")->process (s, params, cmd, len, (uint8_t *) out, sizeof out,
                  &out_len), RK_STATUS_OK);
  CHECK_EQ_U (out_len, sizeof out);
  const double want = 20 * log10 (0.5 * 0.53836 / 2);
  printf ("   band %u: %.4f dB (closed form %.4f), band %u: %.1f dB\n", k0, out[k0], want, k0 + 3,
      out[k0 + 3]);
  CHECK (fabs (out[k0] - want) < 1e-3);
  for (uint32_t k = 0; k < bands; k++)
    if (k + 2 < k0 || k > k0 + 2)
      CHECK (out[k] < want - 40);
  /* a threshold clamps */
  c.threshold = -10;
  rk_spectrum_command_write (cmd, &c, ev, 4, audio);
  CHECK_EQ_U (rk_handler_find ("spectrum")->process (s, params, cmd, len, (uint8_t *) out, sizeof out,
                  &out_len), RK_STATUS_OK);
  for (uint32_t k = 0; k < bands; k++)
    CHECK (out[k] == -10.0f);
  free (s);
  free (audio);
  free (cmd);
}

static void
test_limits (void)
{
  const rk_handler *h = rk_handler_find ("spectrum");
  double p[RK_MAX_PARAMS];
  rk_handler_default_params (h, p);
  CHECK (h != NULL && h->caps == NULL);
  CHECK_GT_U (rk_handler_state_size (h, p), 0);
  p[RK_SPECTRUM_P_BANDS] = 1;
  CHECK_EQ_U (rk_handler_state_size (h, p), 0);
  p[RK_SPECTRUM_P_BANDS] = RK_SPECTRUM_MAX_BANDS;
  p[RK_SPECTRUM_P_CHANNELS] = RK_SPECTRUM_MAX_CHANNELS;
  CHECK_EQ_U (rk_handler_state_size (h, p), 0); /* over 1 GiB */
  p[RK_SPECTRUM_P_CHANNELS] = RK_SPECTRUM_MAX_CHANNELS + 1;
  p[RK_SPECTRUM_P_BANDS] = 128;
  CHECK_EQ_U (rk_handler_state_size (h, p), 0);
  CHECK (!rk_handler_param_ok (h, RK_SPECTRUM_P_BANDS, 256));
  CHECK_EQ_U (rk_spectrum_bps (RK_SPECTRUM_S24), 3);
  CHECK_EQ_U (rk_spectrum_load ((const uint8_t *) "\x01\x02\x83", 3), 0x830201);
  CHECK (rk_spectrum_sample (RK_SPECTRUM_S24, 0x800000) == -8388608.0f / 8388607.0f);
  CHECK (rk_spectrum_sample (RK_SPECTRUM_S16, 0x7fff) == 1.0f);
}

int
main (void)
{
  rk_test_rng rng = { rk_test_seed ("test_spectrum") };

  SECTION ("factors of the FFT length");
  test_factors ();

  SECTION ("the FFT against a direct DFT");
  test_fft (&rng);

  SECTION ("the plan: cut anywhere, same events; intervals add up to the time");
  test_plan (&rng);

  SECTION ("a tone against its closed form; the threshold");
  test_tone ();

  SECTION ("limits");
  test_limits ();

  SECTION ("answers against a model of the whole stream (every format, averaged or per channel)");
  test_model (&rng, 17, 1, 0, RK_SPECTRUM_S16);
  test_model (&rng, 33, 2, 1, RK_SPECTRUM_F64);
  test_model (&rng, 64, 3, 0, RK_SPECTRUM_S24);
  test_model (&rng, 9, 2, 1, RK_SPECTRUM_S32);
  test_model (&rng, 40, 2, 0, RK_SPECTRUM_F32);

  SECTION ("the spectrum actor on the CPU backend against the reference, buffer by buffer");
  static const struct { uint32_t bands, channels, mix, format; } cfg[] = {
    { 128, 1, 0, RK_SPECTRUM_S16 }, { 2, 2, 1, RK_SPECTRUM_F32 }, { 17, 6, 0, RK_SPECTRUM_S24 },
    { 129, 2, 1, RK_SPECTRUM_F64 }, { 1024, 2, 0, RK_SPECTRUM_S32 },
  };
  for (unsigned i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
    char why[512] = "";
    double wd = 0, wr = 0;
    int r = spectrum_check (&rk_backend_cpu, RK_MODE_PERSISTENT, cfg[i].bands, cfg[i].channels,
        cfg[i].mix, cfg[i].format, rk_test_next (&rng), 60, 0.0, 0.0, &wd, &wr, why, sizeof why);
    printf ("   bands %u, %u channels%s: %s\n", cfg[i].bands, cfg[i].channels,
        cfg[i].mix ? " averaged" : "", r == 0 ? "same bits" : why);
    CHECK_MSG (r == 0, "%s", why);
  }
  {
    char why[512] = "";
    int r = spectrum_check_nonfinite (&rk_backend_cpu, RK_MODE_PERSISTENT, 17, 0.0, 0.0, why, sizeof why);
    printf ("   audio not finite: %s\n", r == 0 ? "same bits" : why);
    CHECK_MSG (r == 0, "%s", why);
  }
  printf ("test_spectrum: all checks passed\n");
  return 0;
}
