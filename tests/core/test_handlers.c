/* gst-ringkernel: the built-in handlers (core/rk_handlers.[ch]) against direct computations.
 *
 * Fresh random input every run (the seed is printed; RK_TEST_SEED replays it): echo is the identity,
 * scale is y = (float) a * x + (float) b bit for bit, accumulate is the per-sample running mean computed
 * here in double and rounded to float; a change of length restarts it; its state survives save/load.
 * Also the registry (find, by_id, param_index, defaults) and the unit and size checks.
 */
#include <math.h>

#include "rk_ref_actor.h"
#include "rk_handlers.h"
#include "rk_test.h"

static void
fill_bytes (rk_test_rng *rng, uint8_t *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t) rk_test_next (rng);
}

/* Random finite float32 samples of mixed magnitudes, with a few special values. */
static float
random_sample (rk_test_rng *rng)
{
  switch (rk_test_below (rng, 16)) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: return (float) rk_test_uniform (rng, -1e-30, 1e-30);
    case 3: return (float) rk_test_uniform (rng, -1e30, 1e30);
    case 4: return (float) (int) rk_test_below (rng, 200) - 100.0f;
    default: return (float) rk_test_uniform (rng, -1.0, 1.0);
  }
}

static void
fill_samples (rk_test_rng *rng, float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    x[i] = random_sample (rng);
}

static void
test_registry (void)
{
  SECTION ("registry: find, by_id, param_index, defaults, names");
  CHECK_EQ_U (rk_handler_count (), 7);
  for (unsigned i = 0; i < rk_handler_count (); i++) {
    const rk_handler *h = rk_handler_at (i);
    /* caps: every handler that rkactor runs; the wave is rkwavesrc's, the spectrum rkspectrum's */
    CHECK (h != NULL && h->name && h->process
        && (h->caps != NULL) == (h->id != RK_KERNEL_WAVE && h->id != RK_KERNEL_SPECTRUM) && h->blurb);
    CHECK (rk_handler_find (h->name) == h);
    CHECK (rk_handler_by_id (h->id) == h);
    CHECK (h->unit > 0);
    CHECK (h->n_params <= RK_MAX_PARAMS);
    CHECK ((h->save == NULL) == (h->load == NULL));
    CHECK ((h->state_size == 0 && !h->state_size_for) == (h->save == NULL));
    for (unsigned j = 0; j < i; j++) {
      CHECK (strcmp (rk_handler_at (j)->name, h->name) != 0);
      CHECK (rk_handler_at (j)->id != h->id);
    }
    for (uint32_t p = 0; p < h->n_params; p++) {
      CHECK_EQ_I (rk_handler_param_index (h, h->params[p].name), (int) p);
      CHECK (h->params[p].min <= h->params[p].def && h->params[p].def <= h->params[p].max);
    }
  }
  CHECK (rk_handler_at (rk_handler_count ()) == NULL);
  CHECK (rk_handler_at (1000) == NULL);

  const rk_handler *echo = rk_handler_find ("echo");
  const rk_handler *scale = rk_handler_find ("scale");
  const rk_handler *acc = rk_handler_find ("accumulate");
  CHECK (echo && scale && acc);
  CHECK (rk_handler_find ("nope") == NULL);
  CHECK (rk_handler_find ("") == NULL);
  CHECK (rk_handler_find ("Echo") == NULL);
  CHECK (rk_handler_find ("scale ") == NULL);
  CHECK (rk_handler_find (NULL) == NULL);
  CHECK (rk_handler_by_id (RK_KERNEL_ECHO) == echo);
  CHECK (rk_handler_by_id (RK_KERNEL_SCALE) == scale);
  CHECK (rk_handler_by_id (RK_KERNEL_ACCUMULATE) == acc);
  CHECK (rk_handler_by_id (0) == NULL);
  CHECK (rk_handler_by_id (RK_KERNEL_STENCIL) == rk_handler_find ("stencil"));
  CHECK (rk_handler_by_id (RK_KERNEL_LEVELS) == rk_handler_find ("levels"));
  CHECK (rk_handler_by_id (8) == NULL);
  CHECK (rk_handler_by_id (UINT32_MAX) == NULL);

  CHECK_EQ_U (echo->unit, 1);
  CHECK_EQ_U (scale->unit, 4);
  CHECK_EQ_U (acc->unit, 4);
  CHECK_EQ_U (echo->n_params, 0);
  CHECK_EQ_U (scale->n_params, 2);
  CHECK_EQ_U (acc->n_params, 0);
  CHECK_EQ_U (acc->state_size, sizeof (rk_accumulate_state));
  CHECK_EQ_U (echo->state_size, 0);
  CHECK_EQ_U (scale->state_size, 0);

  CHECK_EQ_I (rk_handler_param_index (scale, "a"), 0);
  CHECK_EQ_I (rk_handler_param_index (scale, "b"), 1);
  CHECK_EQ_I (rk_handler_param_index (scale, "c"), -1);
  CHECK_EQ_I (rk_handler_param_index (scale, ""), -1);
  CHECK_EQ_I (rk_handler_param_index (scale, "A"), -1);
  CHECK_EQ_I (rk_handler_param_index (echo, "a"), -1);
  CHECK_EQ_I (rk_handler_param_index (acc, "a"), -1);

  double p[RK_MAX_PARAMS];
  for (int i = 0; i < (int) RK_MAX_PARAMS; i++)
    p[i] = 123.0;
  rk_handler_default_params (scale, p);
  CHECK (p[0] == 1.0 && p[1] == 0.0);
  for (int i = 2; i < (int) RK_MAX_PARAMS; i++)
    CHECK (p[i] == 0.0);
  rk_handler_default_params (echo, p);
  for (int i = 0; i < (int) RK_MAX_PARAMS; i++)
    CHECK (p[i] == 0.0);

  CHECK (strcmp (rk_cmd_name (RK_CMD_PROCESS), "process") == 0);
  CHECK (strcmp (rk_cmd_name (RK_CMD_LINK), "link") == 0);
  CHECK (strcmp (rk_cmd_name (RK_CMD_INBOX), "inbox") == 0);
  CHECK (strcmp (rk_cmd_name (200), "unknown") == 0);
  CHECK (strcmp (rk_state_name (RK_STATE_PAUSED), "paused") == 0);
  CHECK (strcmp (rk_state_name (RK_STATE_TERMINATED), "terminated") == 0);
  CHECK (strcmp (rk_state_name (99), "invalid") == 0);
  CHECK (strcmp (rk_status_name (RK_STATUS_OK), "ok") == 0);
  CHECK (strcmp (rk_status_name (RK_STATUS_UNKNOWN_CMD), "unknown command") == 0);
  CHECK (strcmp (rk_status_name (999), "unknown status") == 0);
}

static void
test_echo (rk_test_rng *rng)
{
  const rk_handler *h = rk_handler_find ("echo");
  static uint8_t in[65536 + 1], out[65536 + 1];

  SECTION ("echo: identity");
  for (int it = 0; it < 200; it++) {
    uint32_t n = (uint32_t) rk_test_below (rng, 65536 + 1);
    fill_bytes (rng, in, n);
    memset (out, 0xcd, sizeof out);
    uint32_t out_len = 0xdeadbeef;
    CHECK_EQ_U (h->process (NULL, NULL, in, n, out, n, &out_len), RK_STATUS_OK);
    CHECK_EQ_U (out_len, n);
    CHECK (memcmp (in, out, n) == 0);
    if (n < sizeof out)
      CHECK_EQ_U (out[n], 0xcd); /* nothing written past the output */
  }
  uint32_t out_len = 0;
  CHECK_EQ_U (h->process (NULL, NULL, in, 100, out, 99, &out_len), RK_STATUS_TOO_LARGE);
  CHECK_EQ_U (h->process (NULL, NULL, in, 0, out, 0, &out_len), RK_STATUS_OK);
  CHECK_EQ_U (out_len, 0);
}

static void
test_stencil (rk_test_rng *rng)
{
  const rk_handler *h = rk_handler_find ("stencil");
  enum { MAXN = 4096 };
  static float x[MAXN], y_ref[MAXN], y2[MAXN];
  static uint8_t in[4 * MAXN + 8], out[4 * MAXN + 8];

  SECTION ("stencil: y[i] = (l*x[i-1] + c*x[i]) + r*x[i+1], edges clamped, bit for bit");
  CHECK (h != NULL && h->id == RK_KERNEL_STENCIL && h->n_params == 3 && h->state_size == 0);
  for (int it = 0; it < 200; it++) {
    double params[RK_MAX_PARAMS] = { 0 };
    if (it % 2)
      rk_handler_default_params (h, params);
    else
      for (int k = 0; k < 3; k++)
        params[k] = rk_test_uniform (rng, -2.0, 2.0);
    size_t n = (size_t) rk_test_below (rng, MAXN + 1);
    fill_samples (rng, x, n);
    /* the definition, written out independently of rk_ref_stencil_f32 () */
    const float fl = (float) params[0], fc = (float) params[1], fr = (float) params[2];
    for (size_t i = 0; i < n; i++) {
      float a = fl * (i ? x[i - 1] : x[0]);
      float b = fc * x[i];
      float c = fr * (i + 1 < n ? x[i + 1] : x[n - 1]);
      y_ref[i] = (a + b) + c;
    }
    rk_ref_stencil_f32 (x, y2, n, params[0], params[1], params[2]);
    CHECK (memcmp (y_ref, y2, n * 4) == 0);
    size_t in_shift = (size_t) rk_test_below (rng, 4), out_shift = (size_t) rk_test_below (rng, 4);
    memcpy (in + in_shift, x, n * 4);
    memset (out, 0xab, sizeof out);
    uint32_t out_len = 0;
    CHECK_EQ_U (h->process (NULL, params, in + in_shift, (uint32_t) (n * 4), out + out_shift,
            (uint32_t) (n * 4), &out_len), RK_STATUS_OK);
    CHECK_EQ_U (out_len, n * 4);
    CHECK (memcmp (out + out_shift, y_ref, n * 4) == 0);
    CHECK_EQ_U (out[out_shift + n * 4], 0xab);
  }
  /* one sample: its own neighbours */
  double p[RK_MAX_PARAMS];
  rk_handler_default_params (h, p);
  float one = 3.0f, y;
  uint32_t out_len;
  CHECK_EQ_U (h->process (NULL, p, (const uint8_t *) &one, 4, (uint8_t *) &y, 4, &out_len), RK_STATUS_OK);
  CHECK (y == 3.0f);
  CHECK_EQ_U (h->process (NULL, p, in, 6, out, 8, &out_len), RK_STATUS_INVALID);
  CHECK_EQ_U (h->process (NULL, p, in, 8, out, 4, &out_len), RK_STATUS_TOO_LARGE);
}

static void
test_levels (rk_test_rng *rng)
{
  const rk_handler *h = rk_handler_find ("levels");
  SECTION ("levels: y = clamp(a * x + b), rounded half up, on little-endian 16-bit samples");
  CHECK (h != NULL && h->unit == 2);
  static const struct { uint16_t x; double a, b; uint16_t y; } cases[] = {
    { 1000, 2.0, 0.4, 2000 },    /* 2000.4 */
    { 10, 1.0, 0.5, 11 },        /* 10.5: half up */
    { 10, 1.0, 0.49, 10 },
    { 0, 1.0, -5.0, 0 },         /* below 0 */
    { 40000, 2.0, 0.0, 65535 },  /* above 65535 */
    { 65535, 1.0, 0.0, 65535 },
    { 12345, 0.0, 0.0, 0 },
    { 7, NAN, 0.0, 0 },          /* no number: 0 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const double p[RK_MAX_PARAMS] = { cases[i].a, cases[i].b };
    const uint8_t in[2] = { (uint8_t) cases[i].x, (uint8_t) (cases[i].x >> 8) };
    uint8_t out[2];
    uint32_t n = 0;
    CHECK_EQ_U (h->process (NULL, p, in, 2, out, 2, &n), RK_STATUS_OK);
    CHECK_EQ_U (n, 2);
    CHECK_EQ_U ((uint32_t) out[0] | (uint32_t) out[1] << 8, cases[i].y);
  }
  /* random samples against the formula written out, at odd addresses */
  static uint8_t in[2 * 4096 + 1], out[2 * 4096 + 1];
  for (int it = 0; it < 100; it++) {
    const double p[RK_MAX_PARAMS] = { rk_test_uniform (rng, -4.0, 4.0), rk_test_uniform (rng, -7e4, 7e4) };
    const uint32_t n = (uint32_t) rk_test_below (rng, 4097);
    for (uint32_t i = 0; i < 2 * n; i++)
      in[1 + i] = (uint8_t) rk_test_below (rng, 256);
    uint32_t got = 0;
    CHECK_EQ_U (h->process (NULL, p, in + 1, 2 * n, out + 1, 2 * n, &got), RK_STATUS_OK);
    for (uint32_t i = 0; i < n; i++) {
      const float v = (float) p[0] * (float) (in[1 + 2 * i] | in[2 + 2 * i] << 8) + (float) p[1];
      const uint32_t want = v <= 0.0f ? 0 : v >= 65535.0f ? 65535 : (uint32_t) (v + 0.5f);
      CHECK_EQ_U ((uint32_t) out[1 + 2 * i] | (uint32_t) out[2 + 2 * i] << 8, want);
    }
  }
  const double p[RK_MAX_PARAMS] = { 1.0, 0.0 };
  uint32_t n = 0;
  CHECK_EQ_U (h->process (NULL, p, in, 3, out, 4, &n), RK_STATUS_INVALID);
  CHECK_EQ_U (h->process (NULL, p, in, 4, out, 2, &n), RK_STATUS_TOO_LARGE);
}

static void
test_scale (rk_test_rng *rng)
{
  const rk_handler *h = rk_handler_find ("scale");
  enum { MAXN = 16384 };
  static float x[MAXN], y_ref[MAXN], y_ref2[MAXN];
  static uint8_t in[4 * MAXN + 8], out[4 * MAXN + 8];

  SECTION ("scale: y = (float) a * x + (float) b, bit for bit");
  for (int it = 0; it < 300; it++) {
    double params[RK_MAX_PARAMS] = { 0 };
    switch (it % 3) {
      case 0:
        params[0] = rk_test_uniform (rng, -10.0, 10.0);
        params[1] = rk_test_uniform (rng, -10.0, 10.0);
        break;
      case 1: /* doubles that do not survive the float rounding */
        params[0] = rk_test_uniform (rng, -1e6, 1e6);
        params[1] = rk_test_uniform (rng, -1e-6, 1e-6);
        break;
      default:
        params[0] = (double) (int64_t) rk_test_below (rng, 9) - 4.0;
        params[1] = rk_test_uniform (rng, -1e3, 1e3);
        break;
    }
    size_t n = (size_t) rk_test_below (rng, MAXN + 1);
    fill_samples (rng, x, n);
    const float fa = (float) params[0], fb = (float) params[1];
    for (size_t i = 0; i < n; i++)
      y_ref[i] = fa * x[i] + fb;
    rk_ref_scale_f32 (x, y_ref2, n, params[0], params[1]);
    CHECK (memcmp (y_ref, y_ref2, n * 4) == 0);

    /* in and out at odd addresses: inline payloads are not aligned */
    size_t in_shift = (size_t) rk_test_below (rng, 4), out_shift = (size_t) rk_test_below (rng, 4);
    memcpy (in + in_shift, x, n * 4);
    memset (out, 0xab, sizeof out);
    uint32_t out_len = 0;
    CHECK_EQ_U (h->process (NULL, params, in + in_shift, (uint32_t) (n * 4), out + out_shift,
            (uint32_t) (n * 4), &out_len), RK_STATUS_OK);
    CHECK_EQ_U (out_len, n * 4);
    for (size_t i = 0; i < n; i++) {
      float y;
      memcpy (&y, out + out_shift + 4 * i, 4);
      CHECK_MSG (memcmp (&y, &y_ref[i], 4) == 0, "a=%.17g b=%.17g x[%zu]=%a: %a != %a", params[0],
          params[1], i, (double) x[i], (double) y, (double) y_ref[i]);
    }
    CHECK_EQ_U (out[out_shift + n * 4], 0xab);
  }
  /* a = 1, b = 0 (the defaults) is the identity on finite samples */
  double def[RK_MAX_PARAMS];
  rk_handler_default_params (h, def);
  fill_samples (rng, x, 1000);
  uint32_t out_len = 0;
  CHECK_EQ_U (h->process (NULL, def, (const uint8_t *) x, 4000, out, 4000, &out_len), RK_STATUS_OK);
  for (size_t i = 0; i < 1000; i++) {
    float y;
    memcpy (&y, out + 4 * i, 4);
    CHECK (y == x[i]);
  }
}

/* y equals the float nearest to m, give or take one float (the handler multiplies by 1 / count). */
static int
close_to_mean (float y, double m)
{
  float want = (float) m;
  return y == want || y == nextafterf (want, INFINITY) || y == nextafterf (want, -INFINITY);
}

static void
test_accumulate (rk_test_rng *rng)
{
  const rk_handler *h = rk_handler_find ("accumulate");
  enum { MAXN = 8192 };
  static float x[MAXN], y[MAXN];
  static double sum[MAXN];
  rk_accumulate_state *s = malloc (h->state_size);
  CHECK (s != NULL);
  uint64_t exact = 0, near = 0;

  SECTION ("accumulate: running mean vs a direct computation in double; length change restarts");
  h->init (s, NULL);
  CHECK_EQ_U (s->count, 0);
  CHECK_EQ_U (s->samples, 0);
  for (int run = 0; run < 12; run++) {
    uint32_t n = 1 + (uint32_t) rk_test_below (rng, MAXN);
    if (run % 4 == 3)
      n = s->samples; /* a run that continues the previous length: no restart */
    int buffers = 1 + (int) rk_test_below (rng, 40);
    uint64_t count = run % 4 == 3 ? s->count : 0;
    if (run % 4 != 3) {
      if (n == s->samples)
        n = n == MAXN ? n - 1 : n + 1; /* make sure the length changes */
      memset (sum, 0, sizeof sum);
    }
    for (int b = 0; b < buffers; b++) {
      for (uint32_t i = 0; i < n; i++)
        x[i] = (float) rk_test_uniform (rng, -1000.0, 1000.0);
      uint32_t out_len = 0;
      CHECK_EQ_U (h->process (s, NULL, (const uint8_t *) x, n * 4, (uint8_t *) y, n * 4, &out_len),
          RK_STATUS_OK);
      CHECK_EQ_U (out_len, n * 4);
      count++;
      CHECK_EQ_U (s->count, count);
      CHECK_EQ_U (s->samples, n);
      for (uint32_t i = 0; i < n; i++) {
        sum[i] += (double) x[i];
        double m = sum[i] / (double) count;
        CHECK_MSG (close_to_mean (y[i], m), "run %d buffer %d (count %" PRIu64 ") sample %u: %.9g, mean %.17g",
            run, b, count, i, (double) y[i], m);
        if (y[i] == (float) m)
          exact++;
        else
          near++;
        if (count == 1)
          CHECK (y[i] == x[i]); /* a restart: the mean of one buffer is the buffer */
      }
    }
  }
  printf ("  accumulate: %" PRIu64 " samples equal to the double mean rounded, %" PRIu64 " one float away\n",
      exact, near);

  /* a zero-length buffer is a length too */
  uint32_t out_len = 99;
  CHECK_EQ_U (h->process (s, NULL, (const uint8_t *) x, 0, (uint8_t *) y, 0, &out_len), RK_STATUS_OK);
  CHECK_EQ_U (out_len, 0);
  CHECK_EQ_U (s->samples, 0);
  CHECK_EQ_U (s->count, 1);
  free (s);
}

static void
test_accumulate_save_load (rk_test_rng *rng)
{
  const rk_handler *h = rk_handler_find ("accumulate");
  enum { N = 3000 };
  static float x[N], y1[N], y2[N];
  rk_accumulate_state *s = malloc (h->state_size), *t = malloc (h->state_size);
  const uint64_t len = offsetof (rk_accumulate_state, sum) + (uint64_t) N * sizeof (double);
  uint8_t *buf = malloc (len + 64), *buf2 = malloc (len + 64);
  uint32_t st, out_len;
  CHECK (s && t && buf && buf2);

  SECTION ("accumulate: save / load round trip");
  h->init (s, NULL);
  /* the state of a fresh actor saves too: no samples */
  st = RK_STATUS_OK;
  CHECK_EQ_U (h->save (s, buf, len, &st), offsetof (rk_accumulate_state, sum));
  CHECK_EQ_U (st, RK_STATUS_OK);

  for (int b = 0; b < 7; b++) {
    for (int i = 0; i < N; i++)
      x[i] = (float) rk_test_uniform (rng, -5.0, 5.0);
    CHECK_EQ_U (h->process (s, NULL, (const uint8_t *) x, 4 * N, (uint8_t *) y1, 4 * N, &out_len),
        RK_STATUS_OK);
  }
  /* too small a buffer: TOO_LARGE, the length it needs, and nothing written */
  st = RK_STATUS_OK;
  memset (buf, 0xee, len + 64);
  CHECK_EQ_U (h->save (s, buf, len - 1, &st), len);
  CHECK_EQ_U (st, RK_STATUS_TOO_LARGE);
  CHECK_EQ_U (buf[0], 0xee);
  /* just enough */
  st = RK_STATUS_OK;
  memset (buf, 0xee, len + 64);
  CHECK_EQ_U (h->save (s, buf, len, &st), len);
  CHECK_EQ_U (st, RK_STATUS_OK);
  CHECK_EQ_U (buf[len], 0xee);

  /* into a fresh state, then both go on identically */
  memset (t, 0x55, h->state_size);
  h->init (t, NULL);
  CHECK_EQ_U (h->load (t, buf, len), RK_STATUS_OK);
  CHECK_EQ_U (t->count, 7);
  CHECK_EQ_U (t->samples, N);
  st = RK_STATUS_OK;
  CHECK_EQ_U (h->save (t, buf2, len + 64, &st), len);
  CHECK (memcmp (buf, buf2, len) == 0);
  for (int b = 0; b < 3; b++) {
    for (int i = 0; i < N; i++)
      x[i] = (float) rk_test_uniform (rng, -5.0, 5.0);
    CHECK_EQ_U (h->process (s, NULL, (const uint8_t *) x, 4 * N, (uint8_t *) y1, 4 * N, &out_len),
        RK_STATUS_OK);
    CHECK_EQ_U (h->process (t, NULL, (const uint8_t *) x, 4 * N, (uint8_t *) y2, 4 * N, &out_len),
        RK_STATUS_OK);
    CHECK (memcmp (y1, y2, sizeof y1) == 0);
  }

  /* bad serialisations are refused and leave the state alone */
  uint64_t before = t->count;
  CHECK_EQ_U (h->load (t, buf, len - 8), RK_STATUS_BAD_CHECKPOINT);    /* one sample short */
  CHECK_EQ_U (h->load (t, buf, len + 8), RK_STATUS_BAD_CHECKPOINT);    /* one sample too many */
  CHECK_EQ_U (h->load (t, buf, 15), RK_STATUS_BAD_CHECKPOINT);         /* shorter than the header */
  CHECK_EQ_U (h->load (t, buf, 0), RK_STATUS_BAD_CHECKPOINT);
  /* a header that claims more samples than the state can hold (rk_accumulate_state is 8 MiB: no copy of
   * it on the stack, just its header fields) */
  uint32_t too_many = RK_ACCUMULATE_MAX_SAMPLES + 1;
  memcpy (buf2, buf, offsetof (rk_accumulate_state, sum));
  memcpy (buf2 + offsetof (rk_accumulate_state, samples), &too_many, sizeof too_many);
  CHECK_EQ_U (h->load (t, buf2, offsetof (rk_accumulate_state, sum) + (uint64_t) too_many * sizeof (double)),
      RK_STATUS_BAD_CHECKPOINT);
  CHECK_EQ_U (t->count, before);
  CHECK_EQ_U (t->samples, N);
  free (s);
  free (t);
  free (buf);
  free (buf2);
}

/* A PROCESS record through the reference actor, for the unit checks of rk_ref_actor_serve (). */
static uint32_t
serve_inline (const rk_handler *h, void *state, const void *payload, uint32_t len, rk_record *ans)
{
  static rk_control ctl;
  rk_ref_actor a = { .handler = h, .state = state, .ctl = &ctl };
  rk_record req = { .type = RK_CMD_PROCESS, .flags = RK_REC_F_INLINE, .len = len, .seq = 5 };
  memset (&ctl, 0, sizeof ctl);
  rk_handler_default_params (h, a.params);
  rk_ref_actor_init (&a, 1);
  memcpy (req.u.bytes, payload, len);
  rk_ref_actor_serve (&a, &req, ans, 2, 1000);
  CHECK_EQ_U (ans->seq, 5);
  CHECK_EQ_U (ans->type, RK_CMD_PROCESS);
  return ans->status;
}

static void
test_units (void)
{
  const rk_handler *echo = rk_handler_find ("echo");
  const rk_handler *scale = rk_handler_find ("scale");
  const rk_handler *acc = rk_handler_find ("accumulate");
  double params[RK_MAX_PARAMS] = { 2.0, 1.0 };
  uint8_t in[64] = { 0 }, out[64];
  uint32_t out_len = 0;
  rk_accumulate_state *s = malloc (acc->state_size);
  rk_record ans;
  CHECK (s != NULL);
  acc->init (s, NULL);

  SECTION ("units and sizes: lengths not a multiple of 4, outputs too small");
  for (uint32_t len = 1; len < 32; len++) {
    if (len % 4 == 0)
      continue;
    CHECK_EQ_U (scale->process (NULL, params, in, len, out, sizeof out, &out_len), RK_STATUS_INVALID);
    CHECK_EQ_U (acc->process (s, NULL, in, len, out, sizeof out, &out_len), RK_STATUS_INVALID);
    /* the same through the reference actor: refused before the handler runs */
    CHECK_EQ_U (serve_inline (scale, NULL, in, len, &ans), RK_STATUS_INVALID);
    CHECK (ans.flags & RK_REC_F_ERROR);
    CHECK_EQ_U (ans.len, 0);
    CHECK_EQ_U (serve_inline (acc, s, in, len, &ans), RK_STATUS_INVALID);
    CHECK (ans.flags & RK_REC_F_ERROR);
    /* echo's unit is one byte: any length */
    CHECK_EQ_U (serve_inline (echo, NULL, in, len, &ans), RK_STATUS_OK);
    CHECK (!(ans.flags & RK_REC_F_ERROR));
    CHECK_EQ_U (ans.len, len);
  }
  CHECK_EQ_U (s->samples, 0); /* the refused buffers did not touch the state */
  CHECK_EQ_U (s->count, 0);
  CHECK_EQ_U (scale->process (NULL, params, in, 16, out, 12, &out_len), RK_STATUS_TOO_LARGE);
  CHECK_EQ_U (acc->process (s, NULL, in, 16, out, 12, &out_len), RK_STATUS_TOO_LARGE);
  CHECK_EQ_U (serve_inline (scale, NULL, in, 16, &ans), RK_STATUS_OK);
  CHECK_EQ_U (ans.len, 16);

  /* accumulate keeps at most RK_ACCUMULATE_MAX_SAMPLES sums */
  uint32_t big = (RK_ACCUMULATE_MAX_SAMPLES + 1) * 4;
  uint8_t *bin = calloc (1, big), *bout = malloc (big);
  CHECK (bin && bout);
  CHECK_EQ_U (acc->process (s, NULL, bin, big, bout, big, &out_len), RK_STATUS_TOO_LARGE);
  CHECK_EQ_U (acc->process (s, NULL, bin, big - 4, bout, big - 4, &out_len), RK_STATUS_OK);
  CHECK_EQ_U (s->samples, RK_ACCUMULATE_MAX_SAMPLES);
  free (bin);
  free (bout);
  free (s);
}

int
main (void)
{
  rk_test_rng rng = { rk_test_seed ("test_handlers") };

  test_registry ();
  test_echo (&rng);
  test_scale (&rng);
  test_levels (&rng);
  test_stencil (&rng);
  test_accumulate (&rng);
  test_accumulate_save_load (&rng);
  test_units ();
  printf ("test_handlers: all checks passed\n");
  return 0;
}
