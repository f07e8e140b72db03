/* gst-ringkernel: a tiny assertion and helper kit for the plain C tests in tests/core.
 *
 * Every failed check prints file:line, the expression and the values involved, and exits with status 1
 * (from any thread). No GLib, no GStreamer.
 */
#ifndef RK_TEST_H
#define RK_TEST_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RK_FAIL(...)                                                                                  \
  do {                                                                                                \
    fprintf (stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);                                            \
    fprintf (stderr, __VA_ARGS__);                                                                    \
    fprintf (stderr, "\n");                                                                           \
    fflush (stderr);                                                                                  \
    exit (1);                                                                                         \
  } while (0)

#define CHECK(cond)                                                                                   \
  do {                                                                                                \
    if (!(cond))                                                                                      \
      RK_FAIL ("CHECK (%s)", #cond);                                                                  \
  } while (0)

#define CHECK_MSG(cond, ...)                                                                          \
  do {                                                                                                \
    if (!(cond)) {                                                                                    \
      fprintf (stderr, "%s:%d: FAIL: CHECK (%s): ", __FILE__, __LINE__, #cond);                       \
      fprintf (stderr, __VA_ARGS__);                                                                  \
      fprintf (stderr, "\n");                                                                         \
      fflush (stderr);                                                                                \
      exit (1);                                                                                       \
    }                                                                                                 \
  } while (0)

/* Unsigned and signed comparisons that print both sides. */
#define CHECK_EQ_U(a, b)                                                                              \
  do {                                                                                                \
    unsigned long long va_ = (unsigned long long) (a), vb_ = (unsigned long long) (b);                \
    if (va_ != vb_)                                                                                   \
      RK_FAIL ("%s == %s: %llu (0x%llx) != %llu (0x%llx)", #a, #b, va_, va_, vb_, vb_);               \
  } while (0)

#define CHECK_EQ_I(a, b)                                                                              \
  do {                                                                                                \
    long long va_ = (long long) (a), vb_ = (long long) (b);                                           \
    if (va_ != vb_)                                                                                   \
      RK_FAIL ("%s == %s: %lld != %lld", #a, #b, va_, vb_);                                           \
  } while (0)

#define CHECK_GT_U(a, b)                                                                              \
  do {                                                                                                \
    unsigned long long va_ = (unsigned long long) (a), vb_ = (unsigned long long) (b);                \
    if (!(va_ > vb_))                                                                                 \
      RK_FAIL ("%s > %s: %llu (0x%llx) <= %llu (0x%llx)", #a, #b, va_, va_, vb_, vb_);                \
  } while (0)

/* A section marker, so a failure's context is visible in the log. */
#define SECTION(name) printf ("-- %s\n", (name)), fflush (stdout)

/* splitmix64: small, fast, good enough for test input. */
typedef struct rk_test_rng {
  uint64_t s;
} rk_test_rng;

static inline uint64_t
rk_test_next (rk_test_rng *r)
{
  uint64_t z = (r->s += UINT64_C (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* Uniform in [0, n) (n > 0; the tiny modulo bias does not matter here). */
static inline uint64_t
rk_test_below (rk_test_rng *r, uint64_t n)
{
  return rk_test_next (r) % n;
}

/* Uniform double in [lo, hi). */
static inline double
rk_test_uniform (rk_test_rng *r, double lo, double hi)
{
  return lo + (hi - lo) * ((double) (rk_test_next (r) >> 11) * 0x1.0p-53);
}

/* The seed: RK_TEST_SEED from the environment (to replay a failure), else from the clock. Printed. */
static inline uint64_t
rk_test_seed (const char *test)
{
  const char *env = getenv ("RK_TEST_SEED");
  uint64_t seed;
  if (env && *env) {
    seed = strtoull (env, NULL, 0);
  } else {
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    seed = (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
  }
  printf ("%s: seed %" PRIu64 " (replay with RK_TEST_SEED=%" PRIu64 ")\n", test, seed, seed);
  fflush (stdout);
  return seed;
}

/* Memory aligned to a cache-line pair, as shared memory is (C11 aligned_alloc wants a size that is a
 * multiple of the alignment). */
static inline void *
rk_test_alloc_lines (size_t bytes)
{
  void *p = aligned_alloc (128, (bytes + 127) & ~(size_t) 127);
  if (!p) {
    fprintf (stderr, "out of memory\n");
    exit (1);
  }
  return p;
}

static inline double
rk_test_now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

#endif /* RK_TEST_H */
