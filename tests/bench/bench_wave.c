/* bench-wave: rkwavesrc's simulation (the "wave" actor) without GStreamer, every backend present.
 *
 *   bench-wave [--quick]
 *
 * 1. Throughput: for 256^2, 1024^2 and 4096^2 grids and a 256^3 volume, steps run in frames of many
 *    steps with no picture (the work of rkwavesrc with a large steps-per-frame): cells updated per
 *    second and the time of one step, on the cpu backend (one host thread, the C reference), the cuda
 *    persistent actor and cuda mode=launch (a kernel launch per step, one wait per frame). On CUDA, the
 *    device's copy bandwidth is measured in the same run, and each figure is also given as the share of
 *    the bound it sets: a step must read u and u_prev and write u_next, 12 bytes per cell at least.
 * 2. Interactive: a 16 ms frame budget. The host keeps a few one-step commands in flight, injects 4
 *    impulses at random moments of each frame, and at the frame's end asks for the frame (RGBA) and
 *    reads it back. Per frame: steps done, and for each impulse the time from its submission to its
 *    answer (the answer is sent once the impulse is in the field, so this bounds the delay to its first
 *    effect from above). Persistent and launch in the same run, with their ratio.
 * Nothing is asserted: it measures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk_actor.h"
#include "rk_backend.h"
#include "rk_handlers.h"
#include "rk_wait.h"
#include "rk_wave.h"
#ifdef RK_HAVE_CUDA
#include "rk_cuda.h"
#endif

#define TIMEOUT 60000000000ll

typedef struct {
  const char *label;
  rk_backend_kind kind;
  rk_actor_mode mode;
  const rk_backend_ops *ops;
  bool gpu; /* runs on a GPU (lavapipe's Vulkan does not) */
} Config;

static int quick;

static rk_actor *
start (const Config *c, uint32_t w, uint32_t h, uint32_t d)
{
  double p[RK_MAX_PARAMS];
  rk_handler_default_params (rk_handler_find ("wave"), p);
  p[RK_WAVE_P_WIDTH] = w;
  p[RK_WAVE_P_HEIGHT] = h;
  p[RK_WAVE_P_DEPTH] = d;
  p[RK_WAVE_P_DAMPING] = 0.0005;
  const uint64_t frame = ((uint64_t) w * h * 4 + RK_ARENA_ALIGN - 1) / RK_ARENA_ALIGN * RK_ARENA_ALIGN;
  rk_actor_config cfg = {
    .backend = c->ops,
    .handler = rk_handler_find ("wave"),
    .mode = c->mode,
    .ring_entries = 64,
    .in_arena_size = 1 << 16,
    .out_arena_size = 4 * frame,
    .node = 3,
    .params = p,
  };
  char why[512] = "";
  rk_actor *a = NULL;
  if (rk_actor_new (&cfg, &a, why, sizeof why) < 0) {
    printf ("  %s: cannot start: %s\n", c->label, why);
    return NULL;
  }
  return a;
}

static int
send (rk_actor *a, const void *cmd, uint32_t len, uint32_t out_cap)
{
  rk_record rec = { .type = RK_CMD_PROCESS };
  return rk_actor_submit (a, &rec, cmd, len, out_cap, TIMEOUT);
}

static int
take (rk_actor *a, uint32_t *status)
{
  rk_answer ans;
  int r = rk_actor_receive (a, &ans, TIMEOUT);
  if (r == 0) {
    *status = ans.rec.status;
    rk_actor_release_output (a, ans.out_token);
  }
  return r;
}

/* A few impulses so that the field is not zero (no shortcut for a quiet field exists, but the figures
 * should be of a real simulation). */
static void
stir (rk_actor *a, uint32_t w, uint32_t h, uint32_t d)
{
  for (int i = 0; i < 4; i++) {
    rk_wave_impulse imp = { RK_WAVE_IMPULSE, (int32_t) (w * (i + 1) / 5), (int32_t) (h / 2),
      (int32_t) (d / 2), 1.0f, 6.0f };
    uint32_t st;
    send (a, &imp, sizeof imp, 0);
    take (a, &st);
  }
}

/* Steps per second over `frames` frames of `per` steps each (two in flight). */
static double
steps_per_second (rk_actor *a, uint32_t per, uint32_t frames)
{
  rk_wave_frame f = { RK_WAVE_FRAME, per, RK_WAVE_FMT_NONE, 0 };
  uint32_t st = 0, sent = 0, got = 0;
  /* warm-up: one frame */
  send (a, &f, sizeof f, 0);
  take (a, &st);
  const uint64_t t0 = rk_now_ns ();
  while (got < frames) {
    while (sent < frames && sent - got < 2) {
      if (send (a, &f, sizeof f, 0) < 0)
        return 0;
      sent++;
    }
    if (take (a, &st) < 0 || st != RK_STATUS_OK)
      return 0;
    got++;
  }
  return (double) per * frames / ((double) (rk_now_ns () - t0) * 1e-9);
}

static void
throughput (Config *configs, int nc, double bw_gbps)
{
  static const uint32_t grids[][3] = { { 256, 256, 1 }, { 1024, 1024, 1 }, { 4096, 4096, 1 },
    { 256, 256, 256 } };
  printf ("\n## Throughput: steps in frames without a picture\n\n");
  printf ("| backend | grid | steps timed | Gcells/s | us per step | share of the bandwidth bound |\n");
  printf ("|---|---|---|---|---|---|\n");
  for (int g = 0; g < 4; g++) {
    const uint32_t w = grids[g][0], h = grids[g][1], d = grids[g][2];
    const double cells = (double) w * h * d;
    for (int c = 0; c < nc; c++) {
      const Config *cf = &configs[c];
      /* about a second of work on each (less with --quick) */
      const bool gpu = cf->gpu;
      const double guess = gpu ? (cf->mode == RK_MODE_LAUNCH ? 1e-5 + cells / 150e9 : 2e-6 + cells / 150e9)
                               : cells / 0.4e9;
      uint32_t total = (uint32_t) ((quick ? 0.2 : 1.0) / guess);
      total = total < 4 ? 4 : total > 200000 ? 200000 : total;
      uint32_t per = total < 100 ? (total + 3) / 4 : 50, frames = (total + per - 1) / per;
      rk_actor *a = start (cf, w, h, d);
      if (!a)
        continue;
      stir (a, w, h, d);
      const double sps = steps_per_second (a, per, frames);
      char share[32] = "";
      if (gpu && bw_gbps > 0)
        snprintf (share, sizeof share, "%.2f", sps * cells * 12.0 / (bw_gbps * 1e9));
      printf ("| %s | %ux%ux%u | %u | %.3f | %.2f | %s |\n", cf->label, w, h, d, per * frames,
          sps * cells * 1e-9, 1e6 / sps, share);
      fflush (stdout);
      rk_actor_stop (a, TIMEOUT);
      rk_actor_unref (a);
    }
  }
}

/* ---- the interactive workload ---- */

typedef struct {
  uint64_t submitted;
  int impulse;
} Sent;

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

typedef struct {
  double steps_per_frame, delay_median_us, delay_p99_us, frame_read_us;
} Interactive;

static Interactive
interactive (const Config *cf, uint32_t side, int frames, uint32_t depth)
{
  Interactive res = { 0 };
  rk_actor *a = start (cf, side, side, 1);
  if (!a)
    return res;
  const uint64_t budget = 16000000; /* ns */
  const uint32_t frame_len = side * side * 4;
  Sent *q = calloc (1024, sizeof *q);
  double *delays = calloc ((size_t) frames * 4, sizeof *delays);
  double read_total = 0;
  uint64_t steps_total = 0;
  int nd = 0;
  uint64_t rng = 0x9e3779b97f4a7c15ull;
  rk_wave_frame step = { RK_WAVE_FRAME, 1, RK_WAVE_FMT_NONE, 0 };
  rk_wave_frame pic = { RK_WAVE_FRAME, 0, RK_WAVE_FMT_RGBA, side * 4 };

  for (int fr = 0; fr < frames; fr++) {
    uint64_t due[4];
    const uint64_t t0 = rk_now_ns (), end = t0 + budget;
    for (int i = 0; i < 4; i++) {
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      due[i] = t0 + (rng >> 11) % (budget * 9 / 10);
    }
    uint32_t head = 0, tail = 0, st;
    int next_imp = 0;
    /* sort the four moments */
    for (int i = 0; i < 4; i++)
      for (int j = i + 1; j < 4; j++)
        if (due[j] < due[i]) {
          uint64_t t = due[i];
          due[i] = due[j];
          due[j] = t;
        }
    for (;;) {
      const uint64_t now = rk_now_ns ();
      if (now >= end && head == tail)
        break;
      /* keep the actor fed until the frame's time is up */
      while (now < end && head - tail < depth) {
        const int imp = next_imp < 4 && rk_now_ns () >= due[next_imp];
        int r;
        if (imp) {
          rk_wave_impulse m = { RK_WAVE_IMPULSE, (int32_t) ((rng >> 20) % side),
            (int32_t) ((rng >> 40) % side), 0, 0.5f, 3.0f };
          next_imp++;
          q[head % 1024].submitted = rk_now_ns ();
          r = send (a, &m, sizeof m, 0);
        } else {
          q[head % 1024].submitted = rk_now_ns ();
          r = send (a, &step, sizeof step, 0);
        }
        if (r < 0)
          goto out;
        q[head % 1024].impulse = imp;
        head++;
      }
      if (head == tail)
        continue;
      if (take (a, &st) < 0)
        goto out;
      const Sent *s = &q[tail % 1024];
      if (s->impulse)
        delays[nd++] = (double) (rk_now_ns () - s->submitted) * 1e-3;
      else
        steps_total++;
      tail++;
    }
    /* the frame, read back */
    const uint64_t r0 = rk_now_ns ();
    if (send (a, &pic, sizeof pic, frame_len) < 0 || take (a, &st) < 0)
      goto out;
    read_total += (double) (rk_now_ns () - r0) * 1e-3;
  }
  qsort (delays, (size_t) nd, sizeof *delays, cmp_double);
  res.steps_per_frame = (double) steps_total / frames;
  res.delay_median_us = nd ? delays[nd / 2] : 0;
  res.delay_p99_us = nd ? delays[(nd * 99) / 100 < nd ? (nd * 99) / 100 : nd - 1] : 0;
  res.frame_read_us = read_total / frames;
out:
  free (q);
  free (delays);
  rk_actor_stop (a, TIMEOUT);
  rk_actor_unref (a);
  return res;
}

int
main (int argc, char **argv)
{
  char why[512];
  double bw = 0;
  quick = argc > 1 && strcmp (argv[1], "--quick") == 0;
  Config configs[] = {
    { "cpu", RK_BACKEND_CPU, RK_MODE_PERSISTENT, NULL, false },
    { "cuda", RK_BACKEND_CUDA, RK_MODE_PERSISTENT, NULL, true },
    { "cuda-launch", RK_BACKEND_CUDA, RK_MODE_LAUNCH, NULL, true },
    { "vulkan", RK_BACKEND_VULKAN, RK_MODE_PERSISTENT, NULL, true }, /* host-driven: dispatches per frame */
  };
  int nc = 0;
  for (unsigned i = 0; i < sizeof configs / sizeof configs[0]; i++) {
    const rk_backend_ops *ops = rk_backend_get (configs[i].kind, why, sizeof why);
    if (!ops || ops->probe (0, why, sizeof why) < 0) {
      printf ("%s: not measured: %s\n", configs[i].label, why);
      continue;
    }
    configs[i].ops = ops;
    if (ops->probe_auto && ops->probe_auto (0, why, sizeof why) < 0)
      configs[i].gpu = false; /* a Vulkan device on the CPU */
    configs[nc++] = configs[i];
  }
#ifdef RK_HAVE_CUDA
  for (int i = 0; i < nc; i++)
    if (configs[i].kind == RK_BACKEND_CUDA) {
      rk_cuda_device_info (0, why, sizeof why);
      if (rk_cuda_copy_bandwidth (0, (size_t) 1 << 30, &bw) == 0)
        printf ("device: %s\ncopy bandwidth (1 GiB buffers, read + written): %.0f GB/s; bound: %.1f "
            "Gcells/s at 12 bytes per cell\n", why, bw, bw / 12.0);
      break;
    }
#endif
  throughput (configs, nc, bw);

  printf ("\n## Interactive: 16 ms frames, 4 impulses per frame, the frame read back (RGBA)\n\n");
  printf ("| backend | grid | commands in flight | steps per frame | impulse to answer, median us | "
      "p99 us | frame read us |\n|---|---|---|---|---|---|---|\n");
  static const uint32_t sides[] = { 256, 1024 }, depths[] = { 8, 32 };
  double ratio[2][2] = { { 0 } };
  for (int s = 0; s < 2; s++)
    for (int dd = 0; dd < 2; dd++) {
      double persistent = 0, launch = 0;
      for (int c = 0; c < nc; c++) {
        const Config *cf = &configs[c];
        if (!cf->gpu && sides[s] > 256)
          continue;
        Interactive r = interactive (cf, sides[s], quick ? 10 : 60, depths[dd]);
        printf ("| %s | %u^2 | %u | %.0f | %.1f | %.1f | %.0f |\n", cf->label, sides[s], depths[dd],
            r.steps_per_frame, r.delay_median_us, r.delay_p99_us, r.frame_read_us);
        fflush (stdout);
        if (cf->kind == RK_BACKEND_CUDA)
          *(cf->mode == RK_MODE_LAUNCH ? &launch : &persistent) = r.steps_per_frame;
      }
      ratio[s][dd] = persistent > 0 && launch > 0 ? persistent / launch : 0;
    }
  printf ("\n");
  for (int s = 0; s < 2; s++)
    for (int dd = 0; dd < 2; dd++)
      if (ratio[s][dd] > 0)
        printf ("%u^2, %u in flight: persistent does %.2fx the steps per frame of launch\n", sides[s],
            depths[dd], ratio[s][dd]);
  return 0;
}
