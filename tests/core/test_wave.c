/* gst-ringkernel: the wave simulation's C reference (core/rk_wave.c) against closed forms, and the
 * wave actor on the CPU backend against the reference. */
#include <math.h>

#include "rk_test.h"
#include "rk_wave.h"
#include "wave_check.h"

#define PI 3.14159265358979323846

/* A standing wave: the grid's own eigenmode cos (pi kx (x + 1/2) / W) cos (pi ky (y + 1/2) / H) [...z].
 * With zero-gradient edges (the missing neighbour is the cell itself) it is an exact eigenvector of the
 * discrete Laplacian, with eigenvalue -sum (2 - 2 cos (pi k / N)). Starting at rest (u = u_prev = mode),
 * its amplitude obeys a_(n+1) = (1 + keep - C^2 lambda) a_n - keep a_(n-1), whose closed form is
 * a_n = r^n (cos (n theta) + B sin (n theta)), r = sqrt (keep), cos theta = (1 + keep - C^2 lambda) / 2r,
 * B = (cos theta - r) / sin theta (from a_0 = a_(-1) = 1). The simulation must follow it. */
static void
test_standing_wave (uint32_t w, uint32_t h, uint32_t d, uint32_t kx, uint32_t ky, uint32_t kz,
    double speed, double damping, uint32_t steps)
{
  double p[RK_MAX_PARAMS] = { 0 };
  p[RK_WAVE_P_WIDTH] = w;
  p[RK_WAVE_P_HEIGHT] = h;
  p[RK_WAVE_P_DEPTH] = d;
  p[RK_WAVE_P_SPEED] = speed;
  p[RK_WAVE_P_DAMPING] = damping;
  p[RK_WAVE_P_BOUNDARY] = RK_WAVE_REFLECTING;
  const size_t n = (size_t) w * h * d;
  float *f[2] = { malloc (n * sizeof (float)), malloc (n * sizeof (float)) };
  double *mode = malloc (n * sizeof (double));
  CHECK (f[0] && f[1] && mode);
  for (uint32_t z = 0; z < d; z++)
    for (uint32_t y = 0; y < h; y++)
      for (uint32_t x = 0; x < w; x++) {
        size_t i = ((size_t) z * h + y) * w + x;
        mode[i] = cos (PI * kx * (x + 0.5) / w) * cos (PI * ky * (y + 0.5) / h)
            * (d > 1 ? cos (PI * kz * (z + 0.5) / d) : 1.0);
        f[0][i] = f[1][i] = (float) mode[i];
      }
  double lambda = (2 - 2 * cos (PI * kx / w)) + (2 - 2 * cos (PI * ky / h))
      + (d > 1 ? 2 - 2 * cos (PI * kz / d) : 0.0);
  /* the reference computes keep and C^2 in float: the closed form takes the same values */
  const double keep = (float) (1.0f - (float) damping), c2 = (float) ((float) speed * (float) speed);
  const double r = sqrt (keep), ct = (1 + keep - c2 * lambda) / (2 * r);
  CHECK_MSG (ct > -1 && ct < 1, "mode (%u, %u, %u) is not oscillating: cos theta %g", kx, ky, kz, ct);
  const double th = acos (ct), b = (ct - r) / sin (th);
  uint32_t cur = 0;
  double worst = 0;
  for (uint32_t s = 1; s <= steps; s++) {
    rk_ref_wave_step (p, f[cur], f[cur ^ 1], w, h, d);
    cur ^= 1;
    if (s % 50 && s != steps)
      continue;
    const double a = pow (r, s) * (cos (s * th) + b * sin (s * th));
    for (size_t i = 0; i < n; i++) {
      double e = fabs (f[cur][i] - a * mode[i]);
      worst = e > worst ? e : worst;
    }
  }
  printf ("   %ux%ux%u mode (%u, %u, %u), C %.2f, damping %.3f: %u steps, worst error %.2e (amplitude %.3f)\n",
      w, h, d, kx, ky, kz, speed, damping, steps, worst, pow (r, steps));
  CHECK_MSG (worst < 2e-4, "the field left the closed form by %g", worst);
  free (f[0]);
  free (f[1]);
  free (mode);
}

static double
energy (const float *u, const float *prev, size_t n)
{
  double e = 0;
  for (size_t i = 0; i < n; i++)
    e += (double) u[i] * u[i] + (double) (u[i] - prev[i]) * (u[i] - prev[i]);
  return e;
}

/* A pulse in the middle, no damping: reflecting edges keep its energy (bounded, within a few percent of
 * the start), absorbing ones take nearly all of it once the wave has crossed the band. */
static void
test_boundaries (void)
{
  enum { W = 160, H = 128 };
  double left[2];
  for (int b = 0; b < 2; b++) {
    double p[RK_MAX_PARAMS] = { W, H, 1, 0.5, 0.0, (double) b, 0, 1 };
    float *f[2] = { calloc (W * H, sizeof (float)), calloc (W * H, sizeof (float)) };
    rk_wave_impulse imp = { RK_WAVE_IMPULSE, W / 2, H / 2, 0, 1.0f, 6.0f };
    rk_ref_wave_impulse (f[0], f[1], W, H, 1, &imp);
    uint32_t cur = 0;
    for (int s = 0; s < 12; s++) { /* energy measured once the pulse moves */
      rk_ref_wave_step (p, f[cur], f[cur ^ 1], W, H, 1);
      cur ^= 1;
    }
    const double e0 = energy (f[cur], f[cur ^ 1], W * H);
    for (int s = 0; s < 4 * W; s++) {
      rk_ref_wave_step (p, f[cur], f[cur ^ 1], W, H, 1);
      cur ^= 1;
    }
    left[b] = energy (f[cur], f[cur ^ 1], W * H) / e0;
    free (f[0]);
    free (f[1]);
  }
  printf ("   energy left after %d steps: reflecting %.3f, absorbing %.4f\n", 4 * W, left[0], left[1]);
  CHECK_MSG (left[0] > 0.6 && left[0] < 1.6, "reflecting edges: %g of the energy", left[0]);
  CHECK_MSG (left[1] < 0.02, "absorbing edges left %g of the energy", left[1]);
}

static void
test_limits (void)
{
  double p[RK_MAX_PARAMS] = { 256, 256, 1, 0.4, 0, 0, 0, 1 };
  CHECK_EQ_U (rk_wave_state_size (p), RK_WAVE_FIELD_OFF + 2 * 256 * 256 * 4);
  p[RK_WAVE_P_WIDTH] = 16384;
  p[RK_WAVE_P_HEIGHT] = 16384;
  CHECK (rk_wave_state_size (p) > 0); /* 2^28 cells: the most */
  p[RK_WAVE_P_DEPTH] = 2;
  CHECK_EQ_U (rk_wave_state_size (p), 0);
  p[RK_WAVE_P_DEPTH] = 0.5;
  CHECK_EQ_U (rk_wave_state_size (p), 0);

  /* an actor whose grid is out of range does not start, and says why */
  rk_actor_config cfg = {
    .backend = &rk_backend_cpu,
    .handler = rk_handler_find ("wave"),
    .ring_entries = 8,
    .in_arena_size = 4096,
    .out_arena_size = 4096,
    .params = p,
  };
  rk_actor *a = NULL;
  char why[256] = "";
  CHECK (rk_actor_new (&cfg, &a, why, sizeof why) < 0);
  CHECK_MSG (strstr (why, "out of range") != NULL, "%s", why);

  /* rendering: the level and the colour map's ends */
  CHECK_EQ_U (rk_wave_level (-5.0f, 1.0f), 0);
  CHECK_EQ_U (rk_wave_level (NAN, 1.0f), 0);
  CHECK_EQ_U (rk_wave_level (0.0f, 1.0f), 32767);
  CHECK_EQ_U (rk_wave_level (1.0f, 1.0f), 65535);
  CHECK_EQ_U (rk_wave_level (0.25f, 4.0f), 65535);
  CHECK_EQ_U (rk_wave_rgba (0), 0xffff0000u);      /* blue */
  CHECK_EQ_U (rk_wave_rgba (65535), 0xff0000ffu);  /* red */
  CHECK_EQ_U (rk_wave_rgba (32767) & 0xffffff, 0xfffefe); /* near white */
}

int
main (void)
{
  rk_test_rng rng = { rk_test_seed ("test_wave") };

  SECTION ("standing waves follow the closed form (2D and 3D, with and without damping)");
  test_standing_wave (64, 48, 1, 3, 2, 0, 0.45, 0.0, 400);
  test_standing_wave (64, 48, 1, 1, 5, 0, 0.3, 0.004, 400);
  test_standing_wave (17, 9, 1, 16, 8, 0, 0.5, 0.0, 300); /* the highest mode of an odd grid */
  test_standing_wave (24, 20, 16, 2, 1, 3, 0.4, 0.002, 300);

  SECTION ("reflecting edges keep the energy, absorbing ones take it");
  test_boundaries ();

  SECTION ("limits: the grid's size, the frame's levels and colours");
  test_limits ();

  SECTION ("the wave actor on the CPU backend against the reference, command by command");
  static const uint32_t dims[][3] = { { 64, 48, 1 }, { 33, 17, 1 }, { 1, 1, 1 }, { 20, 12, 9 } };
  for (unsigned i = 0; i < sizeof dims / sizeof dims[0]; i++) {
    char why[512] = "";
    uint64_t seed = rk_test_next (&rng);
    int r = wave_check (&rk_backend_cpu, RK_MODE_PERSISTENT, dims[i][0], dims[i][1], dims[i][2], seed,
        300, why, sizeof why);
    printf ("   %ux%ux%u: %s\n", dims[i][0], dims[i][1], dims[i][2], r == 0 ? "same" : why);
    CHECK_MSG (r == 0, "cpu wave %ux%ux%u: %s", dims[i][0], dims[i][1], dims[i][2], why);
  }
  printf ("test_wave: all checks passed\n");
  return 0;
}
