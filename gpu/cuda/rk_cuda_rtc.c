/* gst-ringkernel: user handlers compiled at run time by NVRTC (see rk_cuda_rtc.h).
 *
 * NVRTC is opened when first needed, so the plugin itself does not depend on it: a machine without
 * libnvrtc runs every built-in handler and says what is missing when a kernel file is asked for.
 */
#include "rk_cuda_rtc.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The few NVRTC entry points used, declared here so that the build needs no NVRTC headers. */
typedef struct _nvrtcProgram *nvrtcProgram;
typedef int nvrtcResult;

static struct {
  pthread_once_t once;
  void *lib;
  char error[256];
  nvrtcResult (*create) (nvrtcProgram *, const char *, const char *, int, const char *const *,
      const char *const *);
  nvrtcResult (*destroy) (nvrtcProgram *);
  nvrtcResult (*compile) (nvrtcProgram, int, const char *const *);
  nvrtcResult (*log_size) (nvrtcProgram, size_t *);
  nvrtcResult (*log) (nvrtcProgram, char *);
  nvrtcResult (*cubin_size) (nvrtcProgram, size_t *);
  nvrtcResult (*cubin) (nvrtcProgram, char *);
  const char *(*error_string) (nvrtcResult);
} nvrtc = { PTHREAD_ONCE_INIT };

static void
open_nvrtc (void)
{
  static const char *const names[] = {
    "libnvrtc.so.13", "libnvrtc.so", "/usr/local/cuda/lib64/libnvrtc.so.13",
    "/usr/local/cuda/targets/x86_64-linux/lib/libnvrtc.so.13",
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !nvrtc.lib; i++)
    nvrtc.lib = dlopen (names[i], RTLD_NOW | RTLD_LOCAL);
  if (!nvrtc.lib) {
    snprintf (nvrtc.error, sizeof nvrtc.error,
        "a kernel file needs NVRTC, and libnvrtc.so.13 was not found (install CUDA's NVRTC or put "
        "its folder on LD_LIBRARY_PATH)");
    return;
  }
#define SYM(field, name)                                                                           \
  if (!(*(void **) &nvrtc.field = dlsym (nvrtc.lib, name))) {                                      \
    snprintf (nvrtc.error, sizeof nvrtc.error, "libnvrtc lacks %s", name);                          \
    dlclose (nvrtc.lib);                                                                           \
    nvrtc.lib = NULL;                                                                              \
    return;                                                                                        \
  }
  SYM (create, "nvrtcCreateProgram");
  SYM (destroy, "nvrtcDestroyProgram");
  SYM (compile, "nvrtcCompileProgram");
  SYM (log_size, "nvrtcGetProgramLogSize");
  SYM (log, "nvrtcGetProgramLog");
  SYM (cubin_size, "nvrtcGetCUBINSize");
  SYM (cubin, "nvrtcGetCUBIN");
  SYM (error_string, "nvrtcGetErrorString");
#undef SYM
}

static char *
printf_alloc (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (NULL, 0, fmt, ap);
  va_end (ap);
  char *s = malloc ((size_t) n + 1);
  if (!s)
    return NULL;
  va_start (ap, fmt);
  vsnprintf (s, (size_t) n + 1, fmt, ap);
  va_end (ap);
  return s;
}

int
rk_rtc_compile (const char *user_source, const char *user_path, int major, int minor, void **cubin,
    size_t *cubin_size, char **why)
{
  nvrtcProgram prog = NULL;
  const char **names = NULL, **texts = NULL;
  char *program = NULL, *arch = NULL, *log = NULL;
  int r = 0;

  *cubin = NULL;
  *why = NULL;
  pthread_once (&nvrtc.once, open_nvrtc);
  if (!nvrtc.lib) {
    *why = strdup (nvrtc.error);
    return -ENOENT;
  }

  /* the user's file comes after the actor, which declares rk_user_process; #line keeps the user's
   * file name and line numbers in the compiler's messages */
  program = printf_alloc ("#define RK_USER_HANDLER 1\n%s\n#line 1 \"%s\"\n%s\n", rk_rtc_actor_source,
      user_path, user_source);
  int n = rk_rtc_n_headers; /* the actor's headers and the C library headers NVRTC lacks (rtc/) */
  names = calloc ((size_t) n, sizeof *names);
  texts = calloc ((size_t) n, sizeof *texts);
  arch = printf_alloc ("--gpu-architecture=sm_%d%d", major, minor);
  if (!program || !names || !texts || !arch) {
    r = -ENOMEM;
    goto out;
  }
  for (int i = 0; i < rk_rtc_n_headers; i++) {
    names[i] = rk_rtc_headers[i].name;
    texts[i] = rk_rtc_headers[i].text;
  }

  nvrtcResult e = nvrtc.create (&prog, program, "rk_cuda_actor.cu", n, texts, names);
  if (e != 0) {
    *why = printf_alloc ("NVRTC: %s", nvrtc.error_string (e));
    r = -EIO;
    goto out;
  }
  /* loads default to .cg (L2, coherent): a handler reading the mapped input with ordinary loads
   * cannot see a stale L1 line from an earlier buffer at the same address */
  const char *opts[] = { arch, "-std=c++17", "-default-device", "--ptxas-options=--def-load-cache=cg",
    "-lineinfo" };
  e = nvrtc.compile (prog, sizeof opts / sizeof opts[0], opts);
  size_t log_size = 0;
  nvrtc.log_size (prog, &log_size);
  log = calloc (1, log_size + 1);
  if (log && log_size)
    nvrtc.log (prog, log);
  if (e != 0) {
    *why = printf_alloc ("%s does not compile (%s):\n%s", user_path, nvrtc.error_string (e),
        log ? log : "");
    r = -EINVAL;
    goto out;
  }
  nvrtc.cubin_size (prog, cubin_size);
  *cubin = malloc (*cubin_size);
  if (!*cubin) {
    r = -ENOMEM;
    goto out;
  }
  nvrtc.cubin (prog, *cubin);

out:
  if (prog)
    nvrtc.destroy (&prog);
  if (r == -ENOMEM && !*why)
    *why = strdup ("out of memory");
  free (program);
  free (names);
  free (texts);
  free (arch);
  free (log);
  return r;
}
