/* User handlers (kernel files compiled by NVRTC) and faults on the CUDA backend. Exits 77 (skip)
 * without a usable device.
 *
 * - a kernel file's output against a direct computation on random input, in both modes, at sizes that
 *   take each path (one warp, one block, the whole grid);
 * - a file that does not compile: the error carries the compiler's log and the file's name;
 * - a handler that faults: the host sees an error within seconds, and a new actor then works;
 * - a handler that never returns: the stalled heartbeat ends in an error within seconds, and a new
 *   actor then works.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rk_actor.h"
#include "rk_backend.h"
#include "rk_cuda.h"
#include "rk_handlers.h"
#include "gpu_test.h"
#include "rk_wait.h"


static const char gain_src[] =
    "extern \"C\" __device__ void\n"
    "rk_user_process (const uint8_t *in, uint8_t *out, uint32_t len, const double *p, uint32_t first,\n"
    "    uint32_t stride)\n"
    "{\n"
    "  for (uint32_t i = first; i < len / 4; i += stride)\n"
    "    ((float *) out)[i] = (float) p[0] * ((const float *) in)[i] + (float) p[1];\n"
    "}\n";

static const char broken_src[] =
    "extern \"C\" __device__ void\n"
    "rk_user_process (const uint8_t *in, uint8_t *out, uint32_t len, const double *p, uint32_t first,\n"
    "    uint32_t stride)\n"
    "{\n"
    "  this is not C++;\n"
    "}\n";

static const char fault_src[] =
    "extern \"C\" __device__ void\n"
    "rk_user_process (const uint8_t *in, uint8_t *out, uint32_t len, const double *p, uint32_t first,\n"
    "    uint32_t stride)\n"
    "{\n"
    "  *(volatile int *) (uintptr_t) 8 = (int) len; /* an illegal address */\n"
    "}\n";

static const char hang_src[] =
    "extern \"C\" __device__ void\n"
    "rk_user_process (const uint8_t *in, uint8_t *out, uint32_t len, const double *p, uint32_t first,\n"
    "    uint32_t stride)\n"
    "{\n"
    "  for (;;) /* never returns (a side effect in the loop, so that the compiler keeps it) */\n"
    "    __nanosleep (1000);\n"
    "}\n";

static rk_actor *
start_user (const rk_backend_ops *ops, rk_actor_mode mode, const char *src, const char *path,
    char *why, size_t why_len)
{
  rk_actor_config cfg = {
    .backend = ops,
    .handler = src ? rk_handler_user () : rk_handler_find ("echo"),
    .mode = mode,
    .kernel_source = src,
    .kernel_path = path,
    .ring_entries = 16,
    .in_arena_size = 16 << 20,
    .out_arena_size = 16 << 20,
    .node = 9,
  };
  rk_actor *a = NULL;
  why[0] = '\0';
  if (rk_actor_new (&cfg, &a, why, why_len) < 0)
    return NULL;
  return a;
}

/* A working actor on the device: proves the device is usable again. */
static void
check_device_works (const rk_backend_ops *cuda, const char *after)
{
  char why[4096];
  rk_actor *a = start_user (cuda, RK_MODE_PERSISTENT, NULL, NULL, why, sizeof why);
  CHECK (a != NULL, "a new actor after %s: %s", after, why);
  if (!a)
    return;
  uint8_t buf[64], out[64];
  for (int i = 0; i < 64; i++)
    buf[i] = (uint8_t) (i * 3);
  rk_record rec = { .type = RK_CMD_PROCESS };
  rk_answer ans;
  int r = rk_actor_submit (a, &rec, buf, 64, 64, 10000000000ll);
  if (r == 0)
    r = rk_actor_receive (a, &ans, 10000000000ll);
  CHECK (r == 0, "echo after %s: %d", after, r);
  if (r == 0) {
    memcpy (out, rk_answer_data (&ans), 64);
    rk_actor_release_output (a, ans.out_token);
    CHECK (memcmp (buf, out, 64) == 0, "echo after %s: wrong output", after);
  }
  CHECK (rk_actor_stop (a, 10000000000ll) == 0, "stop after %s", after);
  rk_actor_unref (a);
}

static void
test_gain (const rk_backend_ops *cuda, rk_actor_mode mode, const char *label)
{
  static const uint32_t sizes[] = { 16, 512, 4096, 65536, 1 << 20 };
  char why[8192];
  uint64_t t0 = rk_now_ns ();
  rk_actor *a = start_user (cuda, mode, gain_src, "gain.cu", why, sizeof why);
  CHECK (a != NULL, "%s: kernel file: %s", label, why);
  if (!a)
    return;
  printf ("%s: compiled and started in %.2f s\n", label, (rk_now_ns () - t0) / 1e9);
  double pa = 0.75, pb = -2.5;
  set_param (a, 0, pa, RK_STATUS_OK);
  set_param (a, 1, pb, RK_STATUS_OK);
  for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    uint32_t n = sizes[s] / 4;
    float *x = malloc (sizes[s]);
    for (uint32_t i = 0; i < n; i++)
      x[i] = (float) ((rand () % 200001) - 100000) / 1000.0f;
    rk_record rec = { .type = RK_CMD_PROCESS };
    rk_answer ans;
    int r = rk_actor_submit (a, &rec, x, sizes[s], sizes[s], 10000000000ll);
    if (r == 0)
      r = rk_actor_receive (a, &ans, 10000000000ll);
    CHECK (r == 0 && ans.rec.status == RK_STATUS_OK, "%s: %u bytes: %d, status %u", label, sizes[s],
        r, r == 0 ? ans.rec.status : 0);
    if (r == 0 && ans.rec.status == RK_STATUS_OK) {
      const float *y = (const float *) rk_answer_data (&ans);
      uint32_t bad = 0;
      for (uint32_t i = 0; i < n; i++) {
        float want = (float) pa * x[i] + (float) pb; /* the device may fuse: allow one rounding */
        if (fabsf (y[i] - want) > 1e-5f * fmaxf (1.0f, fabsf (want)))
          bad++;
      }
      CHECK (bad == 0, "%s: %u bytes: %u of %u values wrong", label, sizes[s], bad, n);
      rk_actor_release_output (a, ans.out_token);
    }
    free (x);
  }
  CHECK (rk_actor_stop (a, 10000000000ll) == 0, "%s: stop", label);
  rk_actor_unref (a);
}

static void
test_broken (const rk_backend_ops *cuda)
{
  char why[8192];
  rk_actor *a = start_user (cuda, RK_MODE_PERSISTENT, broken_src, "broken.cu", why, sizeof why);
  CHECK (a == NULL, "a file that does not compile was accepted");
  CHECK (strstr (why, "broken.cu") && strstr (why, "error"), "the error names the file and carries "
      "the log: %s", why);
  printf ("compile error, as reported:\n%s\n", why);
  if (a)
    rk_actor_unref (a);
}

/* Run one record through a handler that goes wrong; the host must see an error within `limit_s`. */
static void
test_failure (const rk_backend_ops *cuda, const char *src, const char *path, double limit_s,
    int recoverable)
{
  char why[8192];
  rk_actor *a = start_user (cuda, RK_MODE_PERSISTENT, src, path, why, sizeof why);
  CHECK (a != NULL, "%s: %s", path, why);
  if (!a)
    return;
  uint8_t buf[256] = { 0 };
  rk_record rec = { .type = RK_CMD_PROCESS };
  rk_answer ans;
  uint64_t t0 = rk_now_ns ();
  int r = rk_actor_submit (a, &rec, buf, sizeof buf, sizeof buf, 30000000000ll);
  if (r == 0)
    r = rk_actor_receive (a, &ans, 30000000000ll);
  double secs = (rk_now_ns () - t0) / 1e9;
  rk_actor_check (a, why, sizeof why);
  printf ("%s: error %d after %.3f s: %s\n", path, r, secs, why);
  CHECK (r == -EIO, "%s: receive gave %d, want -EIO", path, r);
  CHECK (secs < limit_s, "%s: took %.3f s (limit %.1f)", path, secs, limit_s);
  rk_actor_stop (a, 1000000000ll);
  rk_actor_unref (a);
  if (recoverable) {
    check_device_works (cuda, path);
  } else {
    int p = cuda->probe (0, why, sizeof why);
    printf ("after %s the backend says: %s\n", path, why);
    CHECK (p < 0 && strstr (why, "restarts"), "after %s: probe %d: %s", path, p, why);
  }
}

int
main (int argc, char **argv)
{
  char why[512] = "";
  const rk_backend_ops *cuda = rk_backend_get (RK_BACKEND_CUDA, why, sizeof why);

  if (!cuda || cuda->probe (0, why, sizeof why) < 0) {
    printf ("SKIP: %s\n", why);
    return 77;
  }
  srand ((unsigned) time (NULL));
  if (argc > 1 && strcmp (argv[1], "--hang") == 0) {
    /* a handler that never returns: an error once the heartbeat has stalled for 2 s; CUDA cannot
     * stop such a kernel short of the process ending, so the backend refuses the device from then on
     * (its own process: nothing on the device works after it) */
    test_failure (cuda, hang_src, "hang.cu", 8.0, 0);
  } else {
    test_broken (cuda);
    test_gain (cuda, RK_MODE_PERSISTENT, "persistent");
    test_gain (cuda, RK_MODE_LAUNCH, "launch");
    /* an illegal address is a sticky error: CUDA refuses the device to this process from then on,
     * and the backend says so (last, since nothing on the device works after it) */
    test_failure (cuda, fault_src, "fault.cu", 5.0, 0);
  }
  printf ("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
