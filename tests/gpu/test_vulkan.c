/* The Vulkan backend against the C reference. Exits 77 (skip) without a Vulkan device; with Mesa's
 * lavapipe (which scripts/setup.sh installs) it runs anywhere, on the CPU, and on a machine with a GPU
 * on its driver (VK_DRIVER_FILES picks one).
 *
 * Every handler that has a shader, in both modes, on fresh random input and random parameters, at sizes
 * that travel inside a record (staging) and in the arenas, compared bit for bit with core/'s
 * reference; parameter changes between records; what the backend does not do refused with a reason
 * that names it; backend=auto passes over a Vulkan device that is the CPU.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu_test.h"
#include "rk_actor.h"
#include "rk_backend.h"
#include "rk_handlers.h"
#include "rk_vulkan.h"
#include "spectrum_check.h"
#include "wave_check.h"


static rk_actor *
start (const rk_backend_ops *ops, rk_actor_mode mode, const char *kernel, char *why, size_t why_len)
{
  return actor_new (ops, mode, kernel, 8 << 20, 0, why, why_len);
}

static const uint32_t sizes[] = { 4, 16, 32, 36, 4096, 65532, 65536, 1 << 20 };

static void
test_handlers (const rk_backend_ops *ops, rk_actor_mode mode, const char *label)
{
  int ran = 0;
  for (unsigned k = 0; k < rk_handler_count (); k++) {
    const rk_handler *h = rk_handler_at (k);
    char why[512] = "";
    if (!h->caps)
      continue; /* the wave's and the spectrum's: below */
    rk_actor *a = start (ops, mode, h->name, why, sizeof why);
    CHECK (a != NULL, "%s %s: %s", label, h->name, why);
    if (!a)
      continue;
    ran++;
    double params[RK_MAX_PARAMS];
    rk_handler_default_params (h, params);
    void *ref = h->state_size ? malloc (h->state_size) : NULL;
    if (h->init)
      h->init (ref, params);
    for (int round = 0; round < 2; round++) {
      /* new parameters between records: they apply from the next one */
      for (uint32_t i = 0; i < h->n_params; i++) {
        params[i] = h->id == RK_KERNEL_LEVELS ? (i ? rnd_float () * 40.0 : rnd_float () / 200.0) : rnd_float ();
        set_param (a, i, params[i], RK_STATUS_OK);
      }
      for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const int reps = h->id == RK_KERNEL_ACCUMULATE ? 3 : 1;
        for (int r = 0; r < reps; r++)
          process_and_compare (a, h, ref, params, sizes[s], label);
      }
      if (h->unit == 1) /* lengths that are no whole number of words */
        for (uint32_t len = 1; len < 12; len++)
          process_and_compare (a, h, ref, params, len * 7, label);
    }
    /* snapshots are not on this backend: said so, not done wrong */
    rk_record rec = { .type = RK_CMD_SNAPSHOT };
    rk_answer ans;
    int st = call (a, &rec, NULL, 0, 4096, &ans);
    CHECK (h->save == NULL || st == RK_STATUS_UNSUPPORTED, "%s %s snapshot: status %d", label, h->name, st);
    rk_actor_release_output (a, ans.out_token);
    CHECK (rk_actor_stop (a, TIMEOUT) == 0, "%s %s: stop", label, h->name);
    rk_actor_unref (a);
    free (ref);
  }
  printf ("%s: %d handlers against the reference\n", label, ran);
}

/* The wave (rkwavesrc's actor) against the C reference, command by command, 2D and 3D, every frame
 * format, byte for byte. */
static void
test_wave (const rk_backend_ops *ops, rk_actor_mode mode, const char *label)
{
  static const uint32_t dims[][3] = { { 64, 48, 1 }, { 33, 17, 1 }, { 1, 1, 1 }, { 300, 200, 1 },
    { 20, 12, 9 }, { 40, 30, 24 } };
  for (unsigned i = 0; i < sizeof dims / sizeof dims[0]; i++) {
    char why[512] = "";
    int r = wave_check (ops, mode, dims[i][0], dims[i][1], dims[i][2], rnd () | (uint64_t) rnd () << 32, 120,
        why, sizeof why);
    CHECK (r == 0, "%s wave %ux%ux%u: %s", label, dims[i][0], dims[i][1], dims[i][2], why);
    printf ("%s wave %ux%ux%u: %s\n", label, dims[i][0], dims[i][1], dims[i][2], r ? "DIFFERENT" : "same");
  }
}

/* Runs of records: what the actor thread finds on its ring at once is recorded into one submission
 * (gpu/vulkan/rk_vulkan.c, vk_batch_open ()). Each answer of such a run is compared with the
 * reference, run record by record in the same order: a run published at once from the arenas; a large
 * record, then a publication of records that travel inside their record (staged, more of them than the
 * staging has slots); for scale and for accumulate, whose sums carry from one record to the next. */
static void
test_runs (const rk_backend_ops *ops)
{
  static const char *const names[] = { "scale", "accumulate" };
  enum { N_ARENA = 150, MSG = 4096, N_INLINE = 200, BIG = 4 << 20 };
  for (unsigned k = 0; k < sizeof names / sizeof names[0]; k++) {
    const rk_handler *h = rk_handler_find (names[k]);
    rk_actor_config cfg = { .backend = ops, .handler = h, .mode = RK_MODE_PERSISTENT, .ring_entries = 256,
      .in_arena_size = 16 << 20, .out_arena_size = 16 << 20, .node = 7 };
    rk_actor *a = NULL;
    char why[512] = "";
    CHECK (rk_actor_new (&cfg, &a, why, sizeof why) == 0, "runs %s: %s", h->name, why);
    if (!a)
      continue;
    double params[RK_MAX_PARAMS];
    rk_handler_default_params (h, params);
    for (uint32_t i = 0; i < h->n_params; i++) {
      params[i] = rnd_float ();
      set_param (a, i, params[i], RK_STATUS_OK);
    }
    void *ref = h->state_size ? calloc (1, h->state_size) : NULL;
    if (h->init)
      h->init (ref, params);
    const uint64_t batches0 = rk_actor_control (a)->batches;
    uint8_t *in = malloc ((size_t) N_ARENA * MSG + BIG), *want = malloc (BIG);
    for (size_t i = 0; i + 4 <= (size_t) N_ARENA * MSG + BIG; i += 4) {
      float f = rnd_float ();
      memcpy (in + i, &f, 4);
    }
    int bad = 0;

    /* one publication of N_ARENA records */
    rk_record rec = { .type = RK_CMD_PROCESS };
    CHECK (rk_actor_submit_batch (a, &rec, N_ARENA, in, MSG, MSG, TIMEOUT) == 0, "runs %s: submit", h->name);
    rk_answer *ans = calloc (N_INLINE + 1, sizeof *ans);
    uint32_t got = 0;
    while (got < N_ARENA) {
      int r = rk_actor_receive_batch (a, ans + got, N_ARENA - got, TIMEOUT);
      CHECK (r > 0, "runs %s: receive: %d", h->name, r);
      if (r <= 0)
        break;
      got += (uint32_t) r;
    }
    for (uint32_t i = 0; i < got; i++) {
      uint32_t wl = 0;
      h->process (ref, params, in + (size_t) i * MSG, MSG, want, MSG, &wl);
      bad += ans[i].rec.status != RK_STATUS_OK || ans[i].rec.len != wl
          || memcmp (rk_answer_data (&ans[i]), want, wl) != 0;
    }
    if (got == N_ARENA)
      rk_actor_release_output (a, ans[N_ARENA - 1].out_token);
    CHECK (bad == 0 && got == N_ARENA, "runs %s: %d of %u records of one publication differ from the reference",
        h->name, bad, got);

    /* a large record, then one publication of records that travel inside their record: more of them
     * than the staging has slots */
    const uint8_t *small = in + BIG;
    CHECK (rk_actor_submit (a, &rec, in, BIG, BIG, TIMEOUT) == 0, "runs %s: submit the large one", h->name);
    CHECK (rk_actor_submit_batch (a, &rec, N_INLINE, small, RK_INLINE_MAX, RK_INLINE_MAX, TIMEOUT) == 0,
        "runs %s: submit the small ones", h->name);
    bad = 0;
    for (uint32_t i = 0; i <= N_INLINE; i++) {
      rk_answer one;
      if (rk_actor_receive (a, &one, TIMEOUT) != 0) {
        bad++;
        break;
      }
      const uint8_t *x = i ? small + (size_t) (i - 1) * RK_INLINE_MAX : in;
      const uint32_t len = i ? RK_INLINE_MAX : BIG;
      uint32_t wl = 0;
      h->process (ref, params, x, len, want, len, &wl);
      if (one.rec.status != RK_STATUS_OK || one.rec.len != wl || memcmp (rk_answer_data (&one), want, wl) != 0)
        if (!bad++)
          printf ("runs %s: record %u of %u bytes: status %u, %u bytes\n", h->name, i, len, one.rec.status,
              one.rec.len);
      rk_actor_release_output (a, one.out_token);
    }
    CHECK (bad == 0, "runs %s: %d of %d records behind a large one differ from the reference", h->name, bad,
        N_INLINE + 1);
    /* three publications, each with room in K2H: at most three takes */
    const uint64_t takes = rk_actor_control (a)->batches - batches0;
    CHECK (takes <= 3, "runs %s: %llu takes from the ring for three publications", h->name,
        (unsigned long long) takes);
    printf ("runs %s: %d records in %llu takes from the ring, as the reference\n", h->name,
        N_ARENA + N_INLINE + 1, (unsigned long long) takes);
    CHECK (rk_actor_stop (a, TIMEOUT) == 0, "runs %s: stop", h->name);
    rk_actor_unref (a);
    free (ref);
    free (in);
    free (want);
    free (ans);
  }
}

/* The spectrum (rkspectrum's actor) against the C reference, buffer by buffer: every sample format,
 * averaged and per channel, FFTs of every size of radix mix, 64 channels of 1024 bands (several batches
 * of FFTs per command), and an FFT of 131072 frames (a size that the CUDA backend refuses, as its FFT
 * lives in one block's shared memory). The FFT is the reference's to the bit; log10 and atan2 are the
 * shaders' own in double precision, within a few units in the last place of the C library's: the
 * tolerances below are a hundred times tighter than the CUDA backend's. */
static void
test_spectrum (const rk_backend_ops *ops, rk_actor_mode mode, const char *label, int quick)
{
  static const struct { uint32_t bands, channels, mix, format, buffers; } cfg[] = {
    { 128, 1, 0, RK_SPECTRUM_S16, 40 }, { 2, 2, 1, RK_SPECTRUM_F32, 40 }, { 17, 6, 0, RK_SPECTRUM_S24, 40 },
    { 129, 6, 1, RK_SPECTRUM_F64, 40 }, { 1024, 2, 0, RK_SPECTRUM_S32, 40 }, { 1000, 8, 0, RK_SPECTRUM_F32, 20 },
    { 4097, 1, 0, RK_SPECTRUM_S16, 20 }, { 1024, 64, 0, RK_SPECTRUM_S16, 8 }, { 65537, 1, 0, RK_SPECTRUM_S16, 6 },
  };
  for (unsigned i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
    char why[512] = "";
    double wd = 0, wr = 0;
    const int buffers = quick ? (int) (cfg[i].buffers + 3) / 4 : (int) cfg[i].buffers;
    int r = spectrum_check (ops, mode, cfg[i].bands, cfg[i].channels, cfg[i].mix, cfg[i].format,
        rnd () | (uint64_t) rnd () << 32, buffers, 1e-6, 1e-7, &wd, &wr, why, sizeof why);
    CHECK (r == 0, "%s spectrum %u bands, %u channels: %s", label, cfg[i].bands, cfg[i].channels, why);
    printf ("%s spectrum %u bands, %u channels%s: %s (worst %.2e dB, %.2e rad)\n", label, cfg[i].bands,
        cfg[i].channels, cfg[i].mix ? " averaged" : "", r ? "DIFFERENT" : "same", wd, wr);
  }
  /* an FFT whose size is a large prime: a clear refusal, not a submission that runs for seconds */
  {
    double p[RK_MAX_PARAMS];
    rk_handler_default_params (rk_handler_find ("spectrum"), p);
    p[RK_SPECTRUM_P_BANDS] = 65538; /* M = 65537, a prime */
    rk_actor_config c = { .backend = ops, .handler = rk_handler_find ("spectrum"), .mode = mode,
      .ring_entries = 16, .in_arena_size = 1 << 20, .out_arena_size = 1 << 20, .params = p };
    rk_actor *a = NULL;
    char why[512] = "";
    CHECK (rk_actor_new (&c, &a, why, sizeof why) < 0 && strstr (why, "65537"), "%s spectrum, 65538 bands: "
        "%s", label, a ? "started" : why);
    if (a)
      rk_actor_unref (a);
    printf ("%s spectrum 65538 bands: refused (%s)\n", label, why);
  }
  /* audio that is not finite: the reference's infinities and NaN */
  char why[512] = "";
  CHECK (spectrum_check_nonfinite (ops, mode, 17, 1e-6, 1e-7, why, sizeof why) == 0, "%s spectrum, audio "
      "not finite: %s", label, why);
  check_no_snapshot (ops, mode, "spectrum", label);
}

/* What the backend does not do is refused, with a reason that names it: kernel files are CUDA source. */
static void
test_refusals (const rk_backend_ops *ops)
{
  char why[512] = "";
  rk_actor_config cfg = {
    .backend = ops,
    .handler = rk_handler_user (),
    .mode = RK_MODE_PERSISTENT,
    .ring_entries = 16,
    .in_arena_size = 1 << 20,
    .out_arena_size = 1 << 20,
    .kernel_path = "my_kernel.cu",
    .kernel_source = "extern \"C\" __device__ unsigned rk_user_process () { return 0; }",
  };
  rk_actor *a = NULL;
  CHECK (rk_actor_new (&cfg, &a, why, sizeof why) < 0 && strstr (why, "my_kernel.cu") && strstr (why, "cuda"),
      "a kernel file: refused with a reason: %s", why);
  if (a)
    rk_actor_unref (a);
  printf ("kernel file: %s\n", why);
}

/* --no-device, run with no Vulkan driver to be found: every way in says so, and nothing crashes. */
static int
no_device (const rk_backend_ops *vk)
{
  char why[512] = "";
  CHECK (vk->probe (0, why, sizeof why) < 0 && strstr (why, "Vulkan"), "probe: %s", why);
  printf ("probe: %s\n", why);
  why[0] = '\0';
  rk_actor *a = start (vk, RK_MODE_PERSISTENT, "scale", why, sizeof why);
  CHECK (a == NULL && strstr (why, "Vulkan"), "an actor: %s", why);
  printf ("actor: %s\n", why);
  if (a)
    rk_actor_unref (a);
  const rk_backend_ops *pick = rk_backend_pick (0, why, sizeof why);
  CHECK (pick && pick->kind != RK_BACKEND_VULKAN, "auto picked %s", pick ? pick->name : "nothing");
  printf ("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}

int
main (int argc, char **argv)
{
  char why[512] = "";
  const rk_backend_ops *vk = rk_backend_get (RK_BACKEND_VULKAN, why, sizeof why);
  if (vk && argc > 1 && strcmp (argv[1], "--no-device") == 0)
    return no_device (vk);
  if (!vk || vk->probe (0, why, sizeof why) < 0) {
    printf ("SKIP: %s\n", why);
    return 77;
  }
  rk_vulkan_device_info (0, why, sizeof why);
  seed_and_report (why);

  test_handlers (vk, RK_MODE_PERSISTENT, "persistent");
  test_handlers (vk, RK_MODE_LAUNCH, "launch");
  /* where the device does not promise to keep float32 subnormals (NVIDIA's driver), it flushes them:
   * it is held, bit for bit, to the reference computed with them flushed (tests/wave_check.h).
   * lavapipe, which does not promise either, keeps them: it is held to the reference itself. */
  if (strstr (why, "denormals kept not promised") && !strstr (why, "(CPU,"))
    wave_check_flush_subnormals = 1;
  test_runs (vk);
  test_wave (vk, RK_MODE_PERSISTENT, "persistent");
  test_spectrum (vk, RK_MODE_PERSISTENT, "persistent", 0);
  test_spectrum (vk, RK_MODE_LAUNCH, "launch", 1);
  test_refusals (vk);

  /* backend=auto: a Vulkan device on the CPU is for those who ask for it */
  if (strstr (why, "(CPU,")) {
    char reason[512] = "";
    const rk_backend_ops *pick = rk_backend_pick (0, reason, sizeof reason);
    CHECK (pick && pick->kind != RK_BACKEND_VULKAN, "auto picked %s", pick ? pick->name : "nothing");
    CHECK (!pick || pick->kind != RK_BACKEND_CPU || strstr (reason, "vulkan: ") != NULL,
        "auto says why it passed Vulkan over: %s", reason);
    printf ("auto: %s (%s)\n", pick ? pick->name : "none", reason);
  }
  printf ("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
