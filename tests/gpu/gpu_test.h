/* What the GPU tests share: a check that counts failures and goes on (one run shows every difference). */
#ifndef RK_GPU_TEST_H
#define RK_GPU_TEST_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf (stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);                    \
      fprintf (stderr, __VA_ARGS__);                                                               \
      fprintf (stderr, "\n");                                                                      \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

#endif /* RK_GPU_TEST_H */
