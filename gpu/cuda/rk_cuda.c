/* gst-ringkernel: the CUDA backend, host side.
 *
 * One runtime per device (the CUDA primary context), shared by every actor of the process on that
 * device and reference counted. Rings, control blocks and arenas live in pinned, mapped host memory;
 * handler state lives in device memory. A persistent actor is one cooperative kernel on a non-blocking
 * stream of its own (rk_cuda_actor.cu). mode=launch serves the same rings from a host thread that
 * copies each payload in, launches the handler once, copies the result out and synchronises.
 *
 * Things that would wait on a running persistent kernel are avoided: pinned memory is pooled per device
 * and given back to CUDA only when the device's last user closes it (cudaFreeHost may synchronise the
 * device); device memory is allocated and freed stream-ordered on the actor's own stream; every kernel
 * is loaded when the device is opened (lazy loading may synchronise too).
 */
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk_backend.h"
#include "rk_barrier.h"
#include "rk_cuda.h"
#include "rk_cuda_rtc.h"
#include "rk_host_actor.h"
#include "rk_wait.h"

#define MAX_DEVICES 64
/* How long a device's runtime (its pinned memory, its loaded programs) outlives its last actor: a
 * pipeline that restarts, or an actor that moves back to the GPU, finds it ready instead of paying
 * for the pinned allocations again (tens of milliseconds), and no streaming thread pays for freeing
 * it. */
#define LINGER_NS (3ull * 1000 * 1000 * 1000)
#define START_TIMEOUT_NS (5 * 1000000000ll)
#define STALL_NS (2 * 1000000000ll) /* no heartbeat and no answer for this long: the actor is stuck */
#define GRID_THRESHOLD (64 * 1024)  /* payloads from this size are spread over the whole grid */
#define STAGE_MIN (256 * 1024)      /* payloads from this size go through the copy engine */

typedef struct pinned_chunk {
  void *ptr;
  size_t size;
  int in_use;
} pinned_chunk;

struct rk_device {
  int id;
  int users;
  uint64_t idle_since; /* users fell to 0 then (rk_now_ns ()); the reaper frees it LINGER_NS later */
  int faulted; /* a sticky error: reset the device when its last user closes it */
  int hung;    /* a kernel that never returns runs on it: leave the device alone */
  int sms, cc_major, cc_minor, coop, blocks_per_sm;
  /* What this process's persistent actors hold of the GPU, in SMs' worth of blocks (a block of a kernel
   * that fits n to an SM counts 1/n). Their blocks never leave: an actor gets a grid that fits beside
   * them. Under devices_lock. */
  double held, held_elastic; /* all of them; those of a wave or spectrum */
  char name[256];
  pinned_chunk *chunks;
  size_t n_chunks;
  cudaStream_t mem_stream; /* device memory is allocated and freed on it, stream-ordered */
  cudaLibrary_t *libs; /* programs compiled at run time, unloaded with the device */
  size_t n_libs;
};

static pthread_mutex_t devices_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reaper_cond; /* on CLOCK_MONOTONIC, made by init_reaper () */
static pthread_once_t reaper_once = PTHREAD_ONCE_INIT;
static int reaper_running, exiting;
static rk_device *devices[MAX_DEVICES];
static void init_reaper (void);
/* A device that had a sticky error (an illegal address, say) cannot be used again by this process:
 * CUDA says so, and every later call fails. The name of the error, for an honest refusal. */
static const char *sticky[MAX_DEVICES];

/* Record a sticky error of the device; harmless for others. */
static void
note_error (rk_device *d, cudaError_t e)
{
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
      d->faulted = 1;
      if (d->id < MAX_DEVICES)
        sticky[d->id] = cudaGetErrorName (e);
      break;
    default:
      break;
  }
}

static int
cuda_fail (cudaError_t e, char *why, size_t why_len, const char *what)
{
  snprintf (why, why_len, "%s: %s (%s)", what, cudaGetErrorString (e), cudaGetErrorName (e));
  return -EIO;
}

static int
cuda_probe (int device_id, char *why, size_t why_len)
{
  int n = 0;
  cudaError_t e = cudaGetDeviceCount (&n);
  if (e != cudaSuccess) {
    void *drv = dlopen ("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!drv)
      snprintf (why, why_len, "no NVIDIA driver (libcuda.so.1 not found)");
    else
      snprintf (why, why_len, "no usable CUDA device (%s)", cudaGetErrorString (e));
    if (drv)
      dlclose (drv);
    return -ENODEV;
  }
  if (device_id < 0 || device_id >= n) {
    snprintf (why, why_len, "no CUDA device %d (%d present)", device_id, n);
    return -ENODEV;
  }
  if (device_id < MAX_DEVICES && sticky[device_id]) {
    snprintf (why, why_len, "CUDA device %d failed earlier in this process (%s); CUDA cannot use it "
        "again until the process restarts", device_id, sticky[device_id]);
    return -ENODEV;
  }
  int coop = 0, mapped = 0;
  cudaDeviceGetAttribute (&coop, cudaDevAttrCooperativeLaunch, device_id);
  cudaDeviceGetAttribute (&mapped, cudaDevAttrCanMapHostMemory, device_id);
  if (!coop || !mapped) {
    snprintf (why, why_len, "CUDA device %d lacks %s", device_id,
        !coop ? "cooperative launch" : "mapped host memory");
    return -ENODEV;
  }
  return 0;
}

static int
cuda_open (int device_id, rk_device **out, char *why, size_t why_len)
{
  int r = cuda_probe (device_id, why, why_len);
  if (r < 0)
    return r;

  pthread_mutex_lock (&devices_lock);
  rk_device *d = device_id < MAX_DEVICES ? devices[device_id] : NULL;
  if (d) {
    d->users++; /* in use, or lingering after its last user: ready either way */
    pthread_mutex_unlock (&devices_lock);
    *out = d;
    return 0;
  }
  if (device_id >= MAX_DEVICES) {
    pthread_mutex_unlock (&devices_lock);
    snprintf (why, why_len, "CUDA device %d is beyond the %d supported", device_id, MAX_DEVICES);
    return -ENODEV;
  }
  d = calloc (1, sizeof *d);
  if (!d) {
    pthread_mutex_unlock (&devices_lock);
    return -ENOMEM;
  }
  d->id = device_id;
  d->users = 1;
  cudaError_t e = cudaSetDevice (device_id);
  struct cudaDeviceProp prop;
  if (e == cudaSuccess)
    e = cudaGetDeviceProperties (&prop, device_id);
  if (e == cudaSuccess)
    e = (cudaError_t) rk_cuda_preload ();
  /* the largest dynamic shared memory a spectrum's FFT may take, allowed now, before any kernel of
   * ours runs (changing a kernel's attributes beside a running one is best avoided) */
  int optin = 0;
  size_t fixed = 0;
  if (e == cudaSuccess)
    e = cudaDeviceGetAttribute (&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device_id);
  if (e == cudaSuccess)
    e = (cudaError_t) rk_cuda_actor_static_smem (&fixed);
  if (e == cudaSuccess && (size_t) optin > fixed)
    e = (cudaError_t) rk_cuda_allow_smem ((size_t) optin - fixed);
  if (e == cudaSuccess)
    e = (cudaError_t) rk_cuda_blocks_per_sm (rk_cuda_builtin_actor_kernel (), &d->blocks_per_sm, 0);
  if (e == cudaSuccess)
    e = cudaStreamCreateWithFlags (&d->mem_stream, cudaStreamNonBlocking);
  if (e != cudaSuccess) {
    pthread_mutex_unlock (&devices_lock);
    free (d);
    return cuda_fail (e, why, why_len, "cannot open the CUDA device");
  }
  pthread_once (&reaper_once, init_reaper);
  d->sms = prop.multiProcessorCount;
  d->cc_major = prop.major;
  d->cc_minor = prop.minor;
  snprintf (d->name, sizeof d->name, "%s", prop.name);
  devices[device_id] = d;
  pthread_mutex_unlock (&devices_lock);
  *out = d;
  return 0;
}

/* Free a healthy device's runtime. Called with devices_lock, once nobody uses it. */
static void
release_device (rk_device *d)
{
  cudaSetDevice (d->id);
  /* no actor of this process runs on the device any more: pinned memory can go */
  for (size_t i = 0; i < d->n_chunks; i++)
    cudaFreeHost (d->chunks[i].ptr);
  for (size_t i = 0; i < d->n_libs; i++)
    cudaLibraryUnload (d->libs[i]);
  cudaStreamSynchronize (d->mem_stream);
  cudaStreamDestroy (d->mem_stream);
  free (d->chunks);
  free (d->libs);
  free (d);
}

/* The process ends: CUDA's own teardown runs after this (it registered first), so the reaper must not
 * call into CUDA any more. The OS takes back what lingers. */
static void
stop_reaping (void)
{
  pthread_mutex_lock (&devices_lock);
  exiting = 1;
  pthread_cond_broadcast (&reaper_cond);
  pthread_mutex_unlock (&devices_lock);
}

/* Once, after the CUDA runtime has started (so that stop_reaping () runs before its teardown). */
static void
init_reaper (void)
{
  pthread_condattr_t attr;
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&reaper_cond, &attr);
  pthread_condattr_destroy (&attr);
  atexit (stop_reaping);
}

/* Frees the devices that have lingered LINGER_NS without a user; ends when none lingers. */
static void *
reaper_main (void *arg)
{
  pthread_mutex_lock (&devices_lock);
  for (;;) {
    uint64_t next = 0;
    const uint64_t now = rk_now_ns ();
    for (int i = 0; i < MAX_DEVICES && !exiting; i++) {
      rk_device *d = devices[i];
      if (!d || d->users)
        continue;
      if (now - d->idle_since >= LINGER_NS) {
        devices[i] = NULL;
        release_device (d);
      } else if (!next || d->idle_since + LINGER_NS < next) {
        next = d->idle_since + LINGER_NS;
      }
    }
    if (!next || exiting)
      break;
    /* rk_now_ns () is CLOCK_MONOTONIC's, as the condition's */
    const struct timespec ts = { (time_t) (next / 1000000000ull), (long) (next % 1000000000ull) };
    pthread_cond_timedwait (&reaper_cond, &devices_lock, &ts);
  }
  reaper_running = 0;
  pthread_mutex_unlock (&devices_lock);
  return NULL;
}

/* A healthy device without users stays open for the reaper to free later, unless somebody opens it
 * again. The programs that user handlers brought go now (no kernel of ours runs): each actor loads its
 * own, so a pipeline that restarts again and again would pile them up. Returns whether it lingers.
 * Called with devices_lock. */
static int
linger (rk_device *d)
{
  cudaSetDevice (d->id);
  for (size_t i = 0; i < d->n_libs; i++)
    cudaLibraryUnload (d->libs[i]);
  d->n_libs = 0;
  d->idle_since = rk_now_ns ();
  if (!reaper_running) {
    pthread_t t;
    if (pthread_create (&t, NULL, reaper_main, NULL) == 0) {
      reaper_running = 1;
      pthread_setname_np (t, "rk-cuda-reaper");
      pthread_detach (t);
    }
  }
  pthread_cond_broadcast (&reaper_cond);
  return reaper_running;
}

static void
cuda_close (rk_device *d)
{
  pthread_mutex_lock (&devices_lock);
  if (--d->users > 0 || (!d->hung && !d->faulted && !exiting && linger (d))) {
    pthread_mutex_unlock (&devices_lock);
    return;
  }
  devices[d->id] = NULL;
  if (d->hung) {
    /* every call that synchronises would wait for the hung kernel forever: touch nothing */
  } else if (d->faulted) {
    /* A fault poisons the process's context, and a hung kernel never ends by itself: reset the
     * device, which ends its kernels and releases everything the context held, so that the next user
     * starts afresh. */
    cudaSetDevice (d->id);
    cudaError_t e = cudaDeviceReset ();
    if (e != cudaSuccess)
      fprintf (stderr, "ringkernel: resetting CUDA device %d after a fault: %s\n", d->id,
          cudaGetErrorString (e));
    cudaGetLastError ();
  } else if (!exiting) { /* no reaper thread could start: free it now */
    release_device (d);
    pthread_mutex_unlock (&devices_lock);
    return;
  }
  /* hung, reset, or the process is ending (CUDA may be gone): only our own bookkeeping is freed */
  free (d->chunks);
  free (d->libs);
  pthread_mutex_unlock (&devices_lock);
  free (d);
}

static int
cuda_alloc_mapped (rk_device *d, size_t size, rk_mem *mem)
{
  int r = 0;
  size = (size + 4095) & ~(size_t) 4095;
  pthread_mutex_lock (&devices_lock);
  pinned_chunk *c = NULL;
  for (size_t i = 0; i < d->n_chunks; i++) {
    pinned_chunk *k = &d->chunks[i];
    if (!k->in_use && k->size >= size && k->size <= 2 * size && (!c || k->size < c->size))
      c = k;
  }
  if (!c) {
    void *p = NULL;
    pinned_chunk *n = realloc (d->chunks, (d->n_chunks + 1) * sizeof *n);
    if (!n) {
      r = -ENOMEM;
      goto out;
    }
    d->chunks = n;
    cudaSetDevice (d->id);
    if (cudaHostAlloc (&p, size, cudaHostAllocMapped | cudaHostAllocPortable) != cudaSuccess) {
      cudaGetLastError ();
      r = -ENOMEM;
      goto out;
    }
    c = &d->chunks[d->n_chunks++];
    c->ptr = p;
    c->size = size;
  }
  void *dev = NULL;
  if (cudaHostGetDevicePointer (&dev, c->ptr, 0) != cudaSuccess) {
    cudaGetLastError ();
    r = -EIO;
    goto out;
  }
  c->in_use = 1;
  memset (c->ptr, 0, size);
  mem->host = c->ptr;
  mem->dev = (uint64_t) (uintptr_t) dev;
  mem->size = size;
  mem->priv = c->ptr;
out:
  pthread_mutex_unlock (&devices_lock);
  return r;
}

/* Device memory (K2K inboxes), stream-ordered on the device's own stream: neither the allocation nor
 * the free waits for the persistent kernels running there. */
static int
cuda_alloc_device (rk_device *d, size_t size, rk_mem *mem)
{
  void *p = NULL;
  cudaSetDevice (d->id);
  cudaError_t e = cudaMallocAsync (&p, size, d->mem_stream);
  if (e == cudaSuccess)
    e = cudaMemsetAsync (p, 0, size, d->mem_stream);
  if (e == cudaSuccess)
    e = cudaStreamSynchronize (d->mem_stream);
  if (e != cudaSuccess) {
    cudaGetLastError ();
    note_error (d, e);
    return e == cudaErrorMemoryAllocation ? -ENOMEM : -EIO;
  }
  memset (mem, 0, sizeof *mem);
  mem->dev = (uint64_t) (uintptr_t) p;
  mem->size = size;
  return 0;
}

static int
cuda_upload (rk_device *d, rk_mem *mem, size_t off, const void *src, size_t len)
{
  if (off > mem->size || len > mem->size - off)
    return -EINVAL;
  cudaSetDevice (d->id);
  cudaError_t e = cudaMemcpyAsync ((void *) (uintptr_t) (mem->dev + off), src, len,
      cudaMemcpyHostToDevice, d->mem_stream);
  if (e == cudaSuccess)
    e = cudaStreamSynchronize (d->mem_stream);
  if (e != cudaSuccess) {
    cudaGetLastError ();
    note_error (d, e);
    return -EIO;
  }
  return 0;
}

/* K2K between two GPUs: kernels on `from` write into `to`'s inboxes. Those come from `to`'s default
 * memory pool (cudaMallocAsync), which peer access as such does not open: the pool is opened to `from`
 * as well. */
static int
cuda_peer (rk_device *from, rk_device *to, char *why, size_t why_len)
{
  int can = 0;
  cudaError_t e = cudaDeviceCanAccessPeer (&can, from->id, to->id);
  if (e != cudaSuccess || !can) {
    cudaGetLastError ();
    snprintf (why, why_len, "GPU %d has no peer access to GPU %d", from->id, to->id);
    return -ENOTSUP;
  }
  int current = 0;
  cudaGetDevice (&current);
  cudaSetDevice (from->id);
  e = cudaDeviceEnablePeerAccess (to->id, 0);
  if (e == cudaErrorPeerAccessAlreadyEnabled) {
    cudaGetLastError ();
    e = cudaSuccess;
  }
  cudaMemPool_t pool;
  if (e == cudaSuccess)
    e = cudaDeviceGetMemPool (&pool, to->id);
  if (e == cudaSuccess) {
    struct cudaMemAccessDesc access;
    memset (&access, 0, sizeof access);
    access.location.type = cudaMemLocationTypeDevice;
    access.location.id = from->id;
    access.flags = cudaMemAccessFlagsProtReadWrite;
    e = cudaMemPoolSetAccess (pool, &access, 1);
  }
  cudaSetDevice (current); /* the caller's thread goes on with the device it had */
  if (e != cudaSuccess) {
    cudaGetLastError ();
    snprintf (why, why_len, "cannot open GPU %d's memory to GPU %d: %s", to->id, from->id,
        cudaGetErrorString (e));
    return -EIO;
  }
  return 0;
}

static void
cuda_free (rk_device *d, rk_mem *mem)
{
  if (!mem->host && mem->dev) { /* device memory: nobody uses it any more */
    if (!d->hung) {
      cudaSetDevice (d->id);
      cudaFreeAsync ((void *) (uintptr_t) mem->dev, d->mem_stream);
    }
    memset (mem, 0, sizeof *mem);
    return;
  }
  pthread_mutex_lock (&devices_lock);
  for (size_t i = 0; i < d->n_chunks; i++)
    if (d->chunks[i].ptr == mem->priv)
      d->chunks[i].in_use = 0; /* back to the pool, not to CUDA */
  pthread_mutex_unlock (&devices_lock);
  memset (mem, 0, sizeof *mem);
}

/* ---- the kernels an actor runs: the build's own, or a user handler's program ---- */

typedef struct kernels {
  const void *actor, *once;
} kernels;

static int
get_kernels (rk_device *d, const rk_launch *l, kernels *k, char *why, size_t why_len)
{
  void *cubin = NULL;
  size_t size = 0;
  char *msg = NULL;
  cudaLibrary_t lib;
  cudaKernel_t ka, ko;
  cudaError_t e;

  if (!l->kernel_source) {
    k->actor = rk_cuda_builtin_actor_kernel ();
    k->once = rk_cuda_builtin_once_kernel ();
    return 0;
  }
  int r = rk_rtc_compile (l->kernel_source, l->kernel_path ? l->kernel_path : "kernel-file",
      d->cc_major, d->cc_minor, &cubin, &size, &msg);
  if (r < 0) {
    snprintf (why, why_len, "%s", msg ? msg : "cannot compile the kernel file");
    free (msg);
    return r;
  }
  e = cudaLibraryLoadData (&lib, cubin, NULL, NULL, 0, NULL, NULL, 0);
  free (cubin);
  if (e != cudaSuccess)
    return cuda_fail (e, why, why_len, "cannot load the compiled kernel file");
  e = cudaLibraryGetKernel (&ka, lib, RK_CUDA_ACTOR_KERNEL_NAME);
  if (e == cudaSuccess)
    e = cudaLibraryGetKernel (&ko, lib, RK_CUDA_ONCE_KERNEL_NAME);
  if (e != cudaSuccess) {
    cudaLibraryUnload (lib);
    return cuda_fail (e, why, why_len, "the compiled kernel file lacks the actor's kernels");
  }
  pthread_mutex_lock (&devices_lock);
  cudaLibrary_t *libs = realloc (d->libs, (d->n_libs + 1) * sizeof *libs);
  if (libs) {
    d->libs = libs;
    d->libs[d->n_libs++] = lib;
  }
  pthread_mutex_unlock (&devices_lock);
  if (!libs) {
    cudaLibraryUnload (lib);
    return -ENOMEM;
  }
  k->actor = (const void *) ka;
  k->once = (const void *) ko;
  return 0;
}

/* ---- persistent actors ---- */

typedef struct cuda_persistent {
  rk_device *dev;
  cudaStream_t stream;
  cudaStream_t copy_stream; /* payloads into device memory, beside the running kernel */
  void *state;
  rk_cuda_shared *sh;
  uint8_t *dev_in;     /* device mirror of the input arena */
  const uint8_t *host_in;
  rk_mem stage_src;    /* pinned: the counter values the copy stream writes after each payload */
  uint32_t entries;
  rk_control *ctl; /* host view */
  uint64_t last_beat, last_out, last_change_ns;
  double share; /* of rk_device.held */
  int elastic;  /* and of rk_device.held_elastic */
} cuda_persistent;

/* An actor impl is either persistent (a kernel) or launch (a host thread); the first word tells. */
struct rk_actor_impl {
  rk_actor_mode mode;
  union {
    cuda_persistent p;
    rk_host_actor *host;
  } u;
};

/* Does a spectrum block's FFT (smem bytes of shared memory, beside the kernel's own) fit on d? */
static int
spec_smem_check (rk_device *d, size_t smem, char *why, size_t why_len)
{
  int optin = 0;
  size_t fixed = 0;
  cudaDeviceGetAttribute (&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, d->id);
  rk_cuda_actor_static_smem (&fixed);
  if (smem + fixed > (size_t) optin) {
    const size_t most = (size_t) optin > fixed ? ((size_t) optin - fixed) / (2 * sizeof (rk_cf)) + 1 : 0;
    snprintf (why, why_len, "the CUDA backend does an FFT in one block's shared memory: at most %zu "
        "bands on this GPU", most);
    return -EINVAL;
  }
  return 0;
}

/* What this process's persistent actors may hold of the GPU, in SMs. A block needs room on one SM, not
 * in total, so some is left free for blocks of different sizes to fit beside each other; the actors
 * whose grid stretches to the work (wave, spectrum) stop short of the whole so that fixed-size actors
 * (a chain's stages) still start beside them; one of those takes at most ACTOR_SHARE, so that a wave
 * and a spectrum run together. */
#define DEVICE_SHARE 0.875
#define ELASTIC_SHARE 0.75 /* of which the stretching actors together */
#define ACTOR_SHARE 0.625  /* and one actor at most */

/* A grid for an actor that wants `want` blocks of a kernel that fits per_sm to an SM: as many as fit
 * beside what the device's running actors hold, at least one. The actor's share is added to the
 * device's until release_blocks. */
static int
reserve_blocks (rk_device *d, int per_sm, size_t smem, uint64_t want, int elastic, int *grid,
    double *share, char *why, size_t why_len)
{
  if (per_sm < 1) {
    snprintf (why, why_len, "no block of the actor kernel%s fits on an SM of CUDA device %d",
        smem ? " with the shared memory it needs" : "", d->id);
    return -EINVAL;
  }
  pthread_mutex_lock (&devices_lock);
  double room = d->sms * DEVICE_SHARE - d->held;
  if (elastic && d->sms * ELASTIC_SHARE - d->held_elastic < room)
    room = d->sms * ELASTIC_SHARE - d->held_elastic;
  const uint64_t fits = room > 0 ? (uint64_t) (room * per_sm) : 0;
  uint64_t most = (uint64_t) (d->sms * per_sm * ACTOR_SHARE);
  if (most > fits)
    most = fits;
  if (most < 1) {
    const double held = d->held;
    pthread_mutex_unlock (&devices_lock);
    snprintf (why, why_len, "CUDA device %d is full: the actors already running in this process hold "
        "%.0f%% of its SMs, and an actor's blocks must all run at once; stop some first", d->id,
        100.0 * held / d->sms);
    return -ENOSPC;
  }
  if (want < 1)
    want = 1;
  *grid = (int) (want < most ? want : most);
  *share = (double) *grid / per_sm;
  d->held += *share;
  if (elastic)
    d->held_elastic += *share;
  pthread_mutex_unlock (&devices_lock);
  return 0;
}

static void
release_blocks (rk_device *d, double *share, int elastic)
{
  pthread_mutex_lock (&devices_lock);
  d->held -= *share;
  if (elastic)
    d->held_elastic -= *share;
  if (d->held < 1e-9)
    d->held = 0;
  if (d->held_elastic < 1e-9)
    d->held_elastic = 0;
  *share = 0;
  pthread_mutex_unlock (&devices_lock);
}

static int
launch_persistent (rk_device *d, const rk_launch *l, struct rk_actor_impl *impl, char *why,
    size_t why_len)
{
  cuda_persistent *p = &impl->u.p;
  const rk_handler *h = l->handler;
  cudaError_t e;

  kernels k;
  int r;

  p->dev = d;
  p->ctl = l->ctl.host;
  cudaSetDevice (d->id);
  r = get_kernels (d, l, &k, why, why_len);
  if (r < 0)
    return r;
  e = cudaStreamCreateWithFlags (&p->stream, cudaStreamNonBlocking);
  if (e != cudaSuccess)
    return cuda_fail (e, why, why_len, "cannot create the actor's stream");
  e = cudaStreamCreateWithFlags (&p->copy_stream, cudaStreamNonBlocking);
  if (e != cudaSuccess) {
    cudaStreamDestroy (p->stream);
    return cuda_fail (e, why, why_len, "cannot create the actor's copy stream");
  }
  p->host_in = l->in_arena.host;
  p->entries = ((const rk_ring *) l->h2k.host)->entries;
  if (cuda_alloc_mapped (d, p->entries * sizeof (uint64_t), &p->stage_src) < 0)
    p->stage_src.host = NULL; /* no staging: payloads are read over PCIe */
  if (l->state_size) {
    e = cudaMallocAsync (&p->state, l->state_size, p->stream);
    if (e == cudaSuccess && (h->id == RK_KERNEL_WAVE || h->id == RK_KERNEL_SPECTRUM))
      e = (cudaError_t) rk_cuda_init_state (h->id, p->state, l->state_size, l->params, p->stream);
  }
  if (e == cudaSuccess)
    e = cudaMallocAsync ((void **) &p->sh, sizeof (rk_cuda_shared), p->stream);
  if (e == cudaSuccess)
    e = cudaMemsetAsync (p->sh, 0, sizeof (rk_cuda_shared), p->stream);
  if (e == cudaSuccess && p->stage_src.host)
    e = cudaMallocAsync ((void **) &p->dev_in, l->in_arena.size, p->stream);
  if (e != cudaSuccess)
    goto fail;
  /* the copy stream's first copies must land after the zeroing above */
  cudaStreamSynchronize (p->stream);

  rk_cuda_args a;
  memset (&a, 0, sizeof a);
  a.ctl = (rk_control *) (uintptr_t) l->ctl.dev;
  a.h2k = (rk_ring *) (uintptr_t) l->h2k.dev;
  a.k2h = (rk_ring *) (uintptr_t) l->k2h.dev;
  a.in_arena = (uint8_t *) (uintptr_t) l->in_arena.dev;
  a.out_arena = (uint8_t *) (uintptr_t) l->out_arena.dev;
  a.in_size = l->in_arena.size;
  a.out_size = l->out_arena.size;
  a.dev_in = p->dev_in;
  a.state = p->state;
  a.sh = p->sh;
  a.kernel_id = h->id;
  a.n_params = h->n_params;
  memcpy (a.params, l->params, sizeof a.params);
  a.fixed_params = h->fixed_params;
  for (uint32_t i = 0; i < h->n_params; i++) {
    a.pmin[i] = h->params[i].min;
    a.pmax[i] = h->params[i].max;
  }
  a.state_size = l->state_size;
  a.grid_threshold = GRID_THRESHOLD;
  a.unit = h->unit;
  a.inbox = (rk_ring *) (uintptr_t) l->inbox.dev;
  a.inbox_arena = (uint8_t *) (uintptr_t) l->inbox_arena.dev;
  a.inbox_size = l->inbox_arena.size;
  a.inbox_ll = l->inbox_ll.dev;
  a.h2k_ll = (const rk_ll_line *) (uintptr_t) l->h2k_ll.dev;
  a.k2h_ll = (rk_ll_line *) (uintptr_t) l->k2h_ll.dev;

  /* How many blocks: one for every eighth SM by default: enough to keep many PCIe reads in flight on a
   * payload read through the mapping (larger ones come by the copy engine), and room for a chain of
   * eight such actors, with two blocks on an SM, in half of the GPU. The wave: a block for every 512
   * cells (two rows of 256 per block on a 256^2 grid: a step is short), enough loads in flight to keep
   * memory busy on a large grid. The spectrum: a block per FFT (and channel) of a batch, each with the
   * FFT in shared memory. Never more than fits beside the actors already running (reserve_blocks). */
  uint64_t want = (uint64_t) (d->sms / 8 > 0 ? d->sms / 8 : 1);
  size_t smem = 0;
  if (h->id == RK_KERNEL_WAVE) {
    want = (uint64_t) l->params[RK_WAVE_P_WIDTH] * (uint64_t) l->params[RK_WAVE_P_HEIGHT]
        * (uint64_t) l->params[RK_WAVE_P_DEPTH] / 512;
  } else if (h->id == RK_KERNEL_SPECTRUM) {
    rk_spectrum_state head;
    rk_spectrum_layout (l->params, &head);
    smem = RK_CUDA_SPEC_SMEM (head.half);
    if (spec_smem_check (d, smem, why, why_len) < 0) {
      r = -EINVAL;
      goto fail_quiet;
    }
    want = (uint64_t) head.batch * head.channels;
  }
  int per_sm = 0, grid = 0;
  e = (cudaError_t) rk_cuda_blocks_per_sm (k.actor, &per_sm, smem);
  if (e != cudaSuccess)
    goto fail;
  p->elastic = h->id == RK_KERNEL_WAVE || h->id == RK_KERNEL_SPECTRUM;
  if (reserve_blocks (d, per_sm, smem, want, p->elastic, &grid, &p->share, why, why_len) < 0) {
    r = -ENOSPC;
    goto fail_quiet;
  }
  e = (cudaError_t) rk_cuda_launch_actor (k.actor, &a, grid, smem, p->stream);
  if (e != cudaSuccess)
    goto fail;

  /* the kernel reports ACTIVE in the control block once it runs */
  uint64_t deadline = rk_now_ns () + START_TIMEOUT_NS;
  while (rk_load_acquire32 (&p->ctl->state) != RK_STATE_ACTIVE) {
    if (rk_load_acquire32 (&p->ctl->state) == RK_STATE_FAILED
        && rk_load_relaxed32 (&p->ctl->last_error) == RK_STATUS_NOT_RESIDENT) {
      /* some blocks wait for room that the other actors never give back: the kernel ends when they
       * get it (they leave at once). Its memory goes then, in stream order; nothing waits for it here. */
      snprintf (why, why_len, "the %d blocks of the actor kernel could not all run at once on CUDA device "
          "%d beside the GPU work already there (other actors, other processes); stop some first", grid,
          d->id);
      if (p->state)
        cudaFreeAsync (p->state, p->stream);
      cudaFreeAsync (p->sh, p->stream);
      if (p->dev_in)
        cudaFreeAsync (p->dev_in, p->stream);
      cudaStreamDestroy (p->stream);
      cudaStreamDestroy (p->copy_stream);
      if (p->stage_src.host)
        cuda_free (d, &p->stage_src);
      release_blocks (d, &p->share, p->elastic);
      return -ENOSPC;
    }
    e = cudaStreamQuery (p->stream);
    if (e != cudaErrorNotReady && e != cudaSuccess)
      goto fail;
    if (e == cudaSuccess || rk_now_ns () > deadline) {
      snprintf (why, why_len, "the actor kernel did not start (state %u)", p->ctl->state);
      return -ETIMEDOUT; /* a kernel that may still run: its memory is leaked, not freed */
    }
    rk_cpu_relax ();
  }
  p->last_change_ns = rk_now_ns ();
  return 0;

fail:
  cudaGetLastError ();
  note_error (d, e);
  cuda_fail (e, why, why_len, "cannot launch the actor kernel");
fail_quiet:
  if (p->state)
    cudaFreeAsync (p->state, p->stream);
  if (p->sh)
    cudaFreeAsync (p->sh, p->stream);
  if (p->dev_in)
    cudaFreeAsync (p->dev_in, p->stream);
  cudaStreamSynchronize (p->stream);
  cudaStreamDestroy (p->stream);
  cudaStreamDestroy (p->copy_stream);
  if (p->stage_src.host)
    cuda_free (d, &p->stage_src);
  release_blocks (d, &p->share, p->elastic);
  return r < 0 ? r : -EIO;
}

static int
join_persistent (struct rk_actor_impl *impl, int64_t timeout_ns)
{
  cuda_persistent *p = &impl->u.p;
  uint64_t deadline = rk_now_ns () + (uint64_t) (timeout_ns > 0 ? timeout_ns : 0);
  cudaError_t e;

  cudaSetDevice (p->dev->id);
  while ((e = cudaStreamQuery (p->stream)) == cudaErrorNotReady) {
    if (rk_now_ns () >= deadline)
      return -ETIMEDOUT;
    rk_cpu_relax ();
  }
  if (e != cudaSuccess)
    note_error (p->dev, e);
  cudaStreamSynchronize (p->copy_stream);
  cudaStreamDestroy (p->copy_stream);
  if (p->state)
    cudaFreeAsync (p->state, p->stream);
  if (p->dev_in)
    cudaFreeAsync (p->dev_in, p->stream);
  cudaFreeAsync (p->sh, p->stream);
  cudaStreamSynchronize (p->stream);
  cudaStreamDestroy (p->stream);
  if (p->stage_src.host)
    cuda_free (p->dev, &p->stage_src);
  release_blocks (p->dev, &p->share, p->elastic);
  cudaGetLastError ();
  free (impl);
  return e == cudaSuccess ? 0 : -EIO;
}

static int
check_persistent (struct rk_actor_impl *impl, char *why, size_t why_len)
{
  cuda_persistent *p = &impl->u.p;
  cudaError_t e = cudaStreamQuery (p->stream);
  if (e == cudaSuccess) {
    if (rk_load_acquire32 (&p->ctl->state) == RK_STATE_TERMINATED)
      return 0;
    snprintf (why, why_len, "the actor kernel ended without being asked to");
    return -EIO;
  }
  if (e != cudaErrorNotReady) {
    note_error (p->dev, e);
    snprintf (why, why_len, "the actor kernel failed: %s (%s)", cudaGetErrorString (e),
        cudaGetErrorName (e));
    return -EIO;
  }
  /* a kernel that neither beats nor answers is stuck (a handler that never returns) */
  uint64_t beat = rk_load_relaxed64 (&p->ctl->heartbeat);
  uint64_t out = rk_load_relaxed64 (&p->ctl->records_out);
  uint64_t now = rk_now_ns ();
  if (beat != p->last_beat || out != p->last_out) {
    p->last_beat = beat;
    p->last_out = out;
    p->last_change_ns = now;
  } else if (now - p->last_change_ns > (uint64_t) STALL_NS) {
    /* A kernel that never returns cannot be stopped: CUDA waits for it even to reset the device.
     * Nothing more can run on this device in this process; say so from now on. */
    if (p->dev->id < MAX_DEVICES)
      sticky[p->dev->id] = "a kernel that never returns is still running";
    p->dev->hung = 1;
    snprintf (why, why_len, "the actor kernel stopped answering: no heartbeat for %.1f s",
        (now - p->last_change_ns) / 1e9);
    return -ETIMEDOUT;
  }
  return 0;
}

/* ---- mode=launch: a host thread, one kernel per record ---- */

typedef struct launch_state {
  rk_device *dev;
  uint32_t kernel_id;
  cudaStream_t stream;
  void *d_state;
  uint8_t *d_in, *d_out;
  size_t cap;
  int grid;
  rk_accumulate_head acc; /* host mirror of the device state's head */
  size_t state_size;
  double init_params[RK_MAX_PARAMS];
  uint32_t wave_cur;      /* the wave: which field holds u */
  rk_spectrum_state spec; /* the spectrum: host mirror of the device state's header */
  uint32_t *spec_idx;     /* the event of each FFT of the command under way */
  const void *once;       /* the kernel launched for each record */
  rk_handler handler;     /* the reference handler with device-driving functions */
  const rk_handler *ref;
} launch_state;

/* The end of a record the traditional way: wait for what was queued on the stream (e: how queuing it
 * went), as cudaStreamSynchronize does, by polling, but for STALL_NS at most: work that cannot start
 * (the SMs held by kernels that never end) or never ends (a handler that never returns) must not
 * hang the element. A failure is noted against the device and answered as a fault. */
static uint32_t
launch_wait (launch_state *s, cudaError_t e)
{
  const uint64_t t0 = rk_now_ns ();
  while (e == cudaSuccess) {
    e = cudaStreamQuery (s->stream);
    if (e == cudaErrorNotReady) {
      if (rk_now_ns () - t0 > (uint64_t) STALL_NS) {
        if (s->dev->id < MAX_DEVICES)
          sticky[s->dev->id] = "a kernel launch has not finished after 2 s";
        s->dev->hung = 1;
        return RK_STATUS_FAULT;
      }
      e = cudaSuccess;
      continue;
    }
    if (e == cudaSuccess)
      return RK_STATUS_OK;
  }
  note_error (s->dev, e);
  return RK_STATUS_FAULT;
}

static uint32_t
launch_process (void *state, const double *params, const uint8_t *in, uint32_t len, uint8_t *out,
    uint32_t out_cap, uint32_t *out_len)
{
  launch_state *s = state;
  cudaError_t e = cudaSuccess;
  double inv = 0.0;
  int reset = 0;

  if (out_cap < len)
    return RK_STATUS_TOO_LARGE;
  if (s->kernel_id == RK_KERNEL_ACCUMULATE) {
    uint32_t n = len / 4;
    if (n > RK_ACCUMULATE_MAX_SAMPLES)
      return RK_STATUS_TOO_LARGE;
    reset = n != s->acc.samples || s->acc.count == 0;
    s->acc.samples = n;
    s->acc.count = reset ? 1 : s->acc.count + 1;
    inv = 1.0 / (double) s->acc.count;
  }
  if (len > s->cap) {
    size_t cap = len < 4096 ? 4096 : len;
    if (s->d_in)
      cudaFreeAsync (s->d_in, s->stream);
    if (s->d_out)
      cudaFreeAsync (s->d_out, s->stream);
    s->d_in = s->d_out = NULL;
    e = cudaMallocAsync ((void **) &s->d_in, cap, s->stream);
    if (e == cudaSuccess)
      e = cudaMallocAsync ((void **) &s->d_out, cap, s->stream);
    if (e != cudaSuccess)
      return RK_STATUS_FAULT;
    s->cap = cap;
  }
  /* the traditional way: copy in, launch, copy out, wait */
  int blocks = (int) ((len / 16 + RK_CUDA_BLOCK - 1) / RK_CUDA_BLOCK);
  blocks = blocks < 1 ? 1 : blocks > s->grid ? s->grid : blocks;
  rk_once_args o = {
    .kernel_id = s->kernel_id,
    .reset = reset,
    .state = s->d_state,
    .in = s->d_in,
    .out = s->d_out,
    .len = len,
    .inv = inv,
  };
  memcpy (o.params, params, sizeof o.params);
  e = cudaMemcpyAsync (s->d_in, in, len, cudaMemcpyHostToDevice, s->stream);
  if (e == cudaSuccess)
    e = (cudaError_t) rk_cuda_launch_once (s->once, &o, blocks, 0, s->stream);
  if (e == cudaSuccess)
    e = cudaMemcpyAsync (out, s->d_out, len, cudaMemcpyDeviceToHost, s->stream);
  const uint32_t st = launch_wait (s, e);
  if (st == RK_STATUS_OK)
    *out_len = len;
  return st;
}

/* One wave kernel the traditional way: a launch over as many blocks as the work needs. */
static cudaError_t
launch_wave_op (launch_state *s, uint32_t op, const double *params, void *in, void *out, uint32_t n,
    const rk_wave_impulse *imp, double a, double b)
{
  int blocks = (int) ((n + RK_CUDA_BLOCK - 1) / RK_CUDA_BLOCK);
  blocks = blocks < 1 ? 1 : blocks > s->grid ? s->grid : blocks;
  rk_once_args o = {
    .kernel_id = op,
    .state = s->d_state,
    .in = in,
    .out = out,
    .len = n,
    .a = a,
    .b = b,
  };
  memcpy (o.params, params, sizeof o.params);
  if (imp)
    o.imp = *imp;
  return (cudaError_t) rk_cuda_launch_once (s->once, &o, blocks, 0, s->stream);
}

/* The wave's commands: a kernel launch per step, then the frame copied out, then a wait. */
static uint32_t
launch_wave_process (void *state, const double *params, const uint8_t *in, uint32_t len, uint8_t *out,
    uint32_t out_cap, uint32_t *out_len)
{
  launch_state *s = state;
  const uint32_t w = (uint32_t) params[RK_WAVE_P_WIDTH], h = (uint32_t) params[RK_WAVE_P_HEIGHT];
  const uint32_t d = (uint32_t) params[RK_WAVE_P_DEPTH];
  const uint64_t fb = rk_wave_field_bytes (w, h, d);
  uint8_t *f0 = (uint8_t *) s->d_state + RK_WAVE_FIELD_OFF;
  cudaError_t e = cudaSuccess;
  uint32_t st;

  *out_len = 0;
  switch (rk_wave_command (in, len)) {
    case RK_WAVE_FRAME: {
      rk_wave_frame f;
      memcpy (&f, in, sizeof f);
      if ((st = rk_wave_frame_check (&f, w, h, out_cap, out_len)) != RK_STATUS_OK)
        return st;
      for (uint32_t k = 0; k < f.steps && e == cudaSuccess; k++) {
        e = launch_wave_op (s, RK_CUDA_ONCE_WAVE_STEP, params, f0 + s->wave_cur * fb,
            f0 + (s->wave_cur ^ 1) * fb, h * d * RK_CUDA_BLOCK, NULL, 0, 0); /* a block per row */
        s->wave_cur ^= 1;
      }
      if (e == cudaSuccess && *out_len) {
        if (*out_len > s->cap) {
          if (s->d_out)
            cudaFreeAsync (s->d_out, s->stream);
          s->d_out = NULL;
          s->cap = 0;
          e = cudaMallocAsync ((void **) &s->d_out, *out_len, s->stream);
          if (e == cudaSuccess)
            s->cap = *out_len;
        }
        const size_t slice = (size_t) rk_wave_slice (params, d) * w * h * 4;
        if (e == cudaSuccess)
          e = launch_wave_op (s, RK_CUDA_ONCE_WAVE_RENDER, params, f0 + s->wave_cur * fb + slice,
              s->d_out, w * h, NULL, f.format, f.stride);
        if (e == cudaSuccess)
          e = cudaMemcpyAsync (out, s->d_out, *out_len, cudaMemcpyDeviceToHost, s->stream);
      }
      break;
    }
    case RK_WAVE_IMPULSE: {
      rk_wave_impulse imp;
      memcpy (&imp, in, sizeof imp);
      if ((st = rk_wave_impulse_check (&imp)) != RK_STATUS_OK)
        return st;
      const uint32_t side = 2 * ((uint32_t) imp.radius + 1) + 1;
      e = launch_wave_op (s, RK_CUDA_ONCE_WAVE_IMPULSE, params, f0 + s->wave_cur * fb,
          f0 + (s->wave_cur ^ 1) * fb, side * side * (d > 1 ? side : 1), &imp, 0, 0);
      break;
    }
    case RK_WAVE_RESET:
      s->wave_cur = 0;
      e = launch_wave_op (s, RK_CUDA_ONCE_WAVE_CLEAR, params, NULL, f0, (uint32_t) (2 * fb / 4), NULL, 0,
          0);
      break;
    default:
      return RK_STATUS_INVALID;
  }
  st = launch_wait (s, e);
  if (st != RK_STATUS_OK)
    *out_len = 0;
  return st;
}

/* The spectrum's commands: the command copied in, per batch a launch for the FFTs (a block each) and
 * one for the sums, a launch for the window, the answer copied out, then a wait. */
static uint32_t
launch_spectrum_process (void *state, const double *params, const uint8_t *in, uint32_t len,
    uint8_t *out, uint32_t out_cap, uint32_t *out_len)
{
  launch_state *s = state;
  rk_spectrum_state *hs = &s->spec;
  rk_spectrum_cmd c;
  cudaError_t e = cudaSuccess;

  *out_len = 0;
  if (len < sizeof c)
    return RK_STATUS_INVALID;
  memcpy (&c, in, sizeof c);
  if (c.n_events > RK_SPECTRUM_MAX_EVENTS || len < sizeof c + (uint64_t) c.n_events * 8)
    return RK_STATUS_INVALID;
  const rk_spectrum_event *ev = (const rk_spectrum_event *) (const void *) (in + sizeof c);
  uint32_t n_out = 0, st = rk_spectrum_check (&c, ev, len, hs->bands, hs->channels, out_cap, &n_out);
  if (st != RK_STATUS_OK)
    return st;
  uint32_t n_fft = 0;
  for (uint32_t i = 0; i < c.n_events; i++)
    if (ev[i].kind & RK_SPECTRUM_EV_FFT)
      s->spec_idx[n_fft++] = i;
  if (n_out > s->cap) {
    if (s->d_out)
      cudaFreeAsync (s->d_out, s->stream);
    s->d_out = NULL;
    s->cap = 0;
    e = cudaMallocAsync ((void **) &s->d_out, n_out, s->stream);
    if (e != cudaSuccess)
      return launch_wait (s, e);
    s->cap = n_out;
  }
  uint8_t *d_cmd = (uint8_t *) s->d_state + hs->command_off;
  uint32_t *d_idx = (uint32_t *) (void *) ((uint8_t *) s->d_state + hs->index_off);
  e = cudaMemcpyAsync (d_cmd, in, len, cudaMemcpyHostToDevice, s->stream);
  if (e == cudaSuccess && n_fft)
    e = cudaMemcpyAsync (d_idx, s->spec_idx, n_fft * sizeof *d_idx, cudaMemcpyHostToDevice, s->stream);

  const uint32_t C = hs->channels, B = hs->bands;
  const bool ffts = c.flags & (RK_SPECTRUM_F_MAGNITUDE | RK_SPECTRUM_F_PHASE);
  const size_t smem = RK_CUDA_SPEC_SMEM (hs->half);
  rk_once_args o = { .state = s->d_state, .in = d_cmd, .out = s->d_out };
  o.spec.fft_idx = (uint64_t) (uintptr_t) d_idx;
  o.spec.nf = (c.flags & RK_SPECTRUM_F_RESTART) ? 0 : hs->num_fft;
  for (o.spec.j0 = 0; e == cudaSuccess; o.spec.j0 = o.spec.j1) {
    rk_cuda_spec_job *j = &o.spec;
    j->j1 = j->j0 + hs->batch < n_fft ? j->j0 + hs->batch : n_fft;
    j->e0 = j->j0 == 0 ? 0 : s->spec_idx[j->j0];
    j->e1 = j->j1 == n_fft ? c.n_events : s->spec_idx[j->j1];
    j->restart = j->j0 == 0 && (c.flags & RK_SPECTRUM_F_RESTART);
    const uint32_t tasks = (j->j1 - j->j0) * C;
    if (ffts && tasks) {
      o.kernel_id = RK_CUDA_ONCE_SPEC_FFT;
      e = (cudaError_t) rk_cuda_launch_once (s->once, &o, tasks < (uint32_t) s->grid ? (int) tasks : s->grid,
          smem, s->stream);
    }
    if (e == cudaSuccess) {
      o.kernel_id = RK_CUDA_ONCE_SPEC_SUM;
      e = (cudaError_t) rk_cuda_launch_once (s->once, &o, (int) ((C * B + RK_CUDA_BLOCK - 1) / RK_CUDA_BLOCK),
          0, s->stream);
    }
    /* where the batch leaves the interval's count, for the next one */
    for (uint32_t i = j->e0; i < j->e1; i++) {
      j->nf += (ev[i].kind & RK_SPECTRUM_EV_FFT) != 0;
      if (ev[i].kind & RK_SPECTRUM_EV_END) {
        j->nf = 0;
        j->ends++;
      }
    }
    if (j->j1 >= n_fft)
      break;
  }
  if (e == cudaSuccess) {
    const uint32_t kept = c.frames < hs->nfft ? c.frames : hs->nfft;
    o.kernel_id = RK_CUDA_ONCE_SPEC_RING;
    if (kept)
      e = (cudaError_t) rk_cuda_launch_once (s->once, &o,
          (int) ((C * kept + RK_CUDA_BLOCK - 1) / RK_CUDA_BLOCK), 0, s->stream);
  }
  /* the header's place in the window and count, as the kernels leave them */
  rk_spectrum_state next = *hs;
  next.pos = (uint32_t) (((uint64_t) hs->pos + c.frames) % hs->nfft);
  next.num_fft = o.spec.nf;
  if (e == cudaSuccess)
    e = cudaMemcpyAsync (s->d_state, &next, sizeof next, cudaMemcpyHostToDevice, s->stream);
  if (e == cudaSuccess && n_out)
    e = cudaMemcpyAsync (out, s->d_out, n_out, cudaMemcpyDeviceToHost, s->stream);
  st = launch_wait (s, e); /* (next is on this stack: the wait comes before it goes) */
  if (st == RK_STATUS_OK) {
    *hs = next;
    *out_len = n_out;
  }
  return st;
}

static uint64_t
launch_save (const void *state, uint8_t *buf, uint64_t cap, uint32_t *status)
{
  const launch_state *s = state;
  uint64_t len = sizeof (rk_accumulate_head) + (uint64_t) s->acc.samples * sizeof (double);
  if (cap < len) {
    *status = RK_STATUS_TOO_LARGE;
    return len;
  }
  if (s->dev->hung) {
    *status = RK_STATUS_FAULT;
    return 0;
  }
  memcpy (buf, &s->acc, sizeof s->acc);
  if (s->acc.samples && cudaMemcpy (buf + sizeof s->acc, (uint8_t *) s->d_state + sizeof s->acc,
          len - sizeof s->acc, cudaMemcpyDeviceToHost) != cudaSuccess) {
    *status = RK_STATUS_FAULT;
    return 0;
  }
  return len;
}

static uint32_t
launch_load (void *state, const uint8_t *buf, uint64_t len)
{
  launch_state *s = state;
  rk_accumulate_head head;
  uint32_t st = rk_accumulate_check (buf, len, &head);
  if (st != RK_STATUS_OK)
    return st;
  if (s->dev->hung)
    return RK_STATUS_FAULT;
  if (cudaMemcpy (s->d_state, buf, len, cudaMemcpyHostToDevice) != cudaSuccess)
    return RK_STATUS_FAULT;
  s->acc = head;
  return RK_STATUS_OK;
}

static void
launch_init (void *state, const double *params)
{
  (void) params; /* the same as init_params, which the state was sized for */
  launch_state *s = state;
  cudaSetDevice (s->dev->id); /* first call on the actor's thread: the current device is per thread */
  memset (&s->acc, 0, sizeof s->acc);
  s->wave_cur = 0;
  if (s->kernel_id == RK_KERNEL_SPECTRUM)
    rk_spectrum_layout (s->init_params, &s->spec);
  if (s->d_state)
    rk_cuda_init_state (s->kernel_id, s->d_state, s->state_size, s->init_params, s->stream);
}

static void
launch_state_free (void *state)
{
  launch_state *s = state;
  if (s->dev->hung) {
    /* work still queued on its stream may never end: leave the stream and its memory alone */
    free (s->spec_idx);
    free (s);
    return;
  }
  cudaSetDevice (s->dev->id);
  if (s->d_in)
    cudaFreeAsync (s->d_in, s->stream);
  if (s->d_out)
    cudaFreeAsync (s->d_out, s->stream);
  if (s->d_state)
    cudaFreeAsync (s->d_state, s->stream);
  cudaStreamSynchronize (s->stream);
  cudaStreamDestroy (s->stream);
  free (s->spec_idx);
  free (s);
}

static int
launch_host (rk_device *d, const rk_launch *l, struct rk_actor_impl *impl, char *why, size_t why_len)
{
  launch_state *s = calloc (1, sizeof *s);
  cudaError_t e;
  kernels k;
  if (!s)
    return -ENOMEM;
  cudaSetDevice (d->id);
  int r = get_kernels (d, l, &k, why, why_len);
  if (r < 0) {
    free (s);
    return r;
  }
  s->once = k.once;
  s->dev = d;
  s->kernel_id = l->handler->id;
  s->ref = l->handler;
  s->grid = d->sms * d->blocks_per_sm;
  cudaSetDevice (d->id);
  e = cudaStreamCreateWithFlags (&s->stream, cudaStreamNonBlocking);
  s->state_size = l->state_size;
  memcpy (s->init_params, l->params, sizeof s->init_params);
  if (e == cudaSuccess && l->state_size)
    e = cudaMallocAsync (&s->d_state, l->state_size, s->stream);
  if (e != cudaSuccess) {
    free (s);
    return cuda_fail (e, why, why_len, "cannot prepare the launch-mode actor");
  }
  if (e == cudaSuccess && s->kernel_id == RK_KERNEL_SPECTRUM) {
    rk_spectrum_state head;
    rk_spectrum_layout (l->params, &head);
    s->spec_idx = malloc (RK_SPECTRUM_MAX_EVENTS * sizeof *s->spec_idx);
    if (!s->spec_idx) {
      cudaFreeAsync (s->d_state, s->stream);
      free (s);
      return -ENOMEM;
    }
    if (spec_smem_check (d, RK_CUDA_SPEC_SMEM (head.half), why, why_len) < 0) {
      cudaFreeAsync (s->d_state, s->stream);
      free (s->spec_idx);
      free (s);
      return -EINVAL;
    }
  }
  s->handler = *l->handler;
  s->handler.init = launch_init;
  s->handler.process = l->handler->id == RK_KERNEL_WAVE ? launch_wave_process
      : l->handler->id == RK_KERNEL_SPECTRUM ? launch_spectrum_process : launch_process;
  /* snapshots of the device state: accumulate's (the wave's fields are not taken through the arena) */
  s->handler.save = l->handler->id == RK_KERNEL_ACCUMULATE ? launch_save : NULL;
  s->handler.load = l->handler->id == RK_KERNEL_ACCUMULATE ? launch_load : NULL;
  return rk_host_actor_start (l, &s->handler, s, launch_state_free, RK_HOST_LINKS_NONE, &impl->u.host, why, why_len);
}

/* ---- the table ---- */

static int
cuda_launch (rk_device *d, const rk_launch *l, rk_actor_impl **out, char *why, size_t why_len)
{
  struct rk_actor_impl *impl = calloc (1, sizeof *impl);
  int r;
  if (!impl)
    return -ENOMEM;
  impl->mode = l->mode;
  r = l->mode == RK_MODE_LAUNCH ? launch_host (d, l, impl, why, why_len)
                                : launch_persistent (d, l, impl, why, why_len);
  if (r < 0) {
    if (r != -ETIMEDOUT)
      free (impl);
    return r;
  }
  *out = impl;
  return 0;
}

static void
cuda_doorbell (rk_actor_impl *impl)
{
  if (impl->mode == RK_MODE_LAUNCH)
    rk_host_actor_doorbell (impl->u.host);
  /* a persistent kernel polls its ring: nothing to ring */
}

static int
cuda_join (rk_actor_impl *impl, int64_t timeout_ns)
{
  if (impl->mode == RK_MODE_LAUNCH) {
    int r = rk_host_actor_join (impl->u.host, timeout_ns);
    if (r == 0)
      free (impl);
    return r;
  }
  return join_persistent (impl, timeout_ns);
}

/* The copy engine moves a large payload into the device mirror of the input arena, then the counter
 * that tells the kernel it is there: both on the copy stream, in that order, without the host waiting. */
static int
cuda_stage (rk_actor_impl *impl, uint64_t seq, uint64_t in_off, uint32_t len)
{
  if (impl->mode != RK_MODE_PERSISTENT)
    return -ENOTSUP;
  cuda_persistent *p = &impl->u.p;
  if (!p->dev_in)
    return -ENOTSUP;
  /* this slot's value is read by a copy that ends before the record is answered, and the slot is
   * reused only for a record `entries` later, which waits for that answer */
  uint64_t *src = (uint64_t *) p->stage_src.host + (seq & (p->entries - 1));
  *src = seq + 1;
  cudaError_t e = cudaMemcpyAsync (p->dev_in + in_off, p->host_in + in_off, len,
      cudaMemcpyHostToDevice, p->copy_stream);
  if (e == cudaSuccess)
    e = cudaMemcpyAsync (&p->sh->staged, src, sizeof *src, cudaMemcpyHostToDevice, p->copy_stream);
  if (e != cudaSuccess) {
    cudaGetLastError ();
    return -EIO;
  }
  return 0;
}

static int
cuda_check (rk_actor_impl *impl, char *why, size_t why_len)
{
  if (impl->mode == RK_MODE_LAUNCH)
    return rk_host_actor_check (impl->u.host, why, why_len);
  return check_persistent (impl, why, why_len);
}

const rk_backend_ops rk_backend_cuda = {
  .name = "cuda",
  .kind = RK_BACKEND_CUDA,
  .wakes_host = 0,
  .modes = (1u << RK_MODE_PERSISTENT) | (1u << RK_MODE_LAUNCH),
  .link_paths = (1u << RK_LINK_DEVICE) | (1u << RK_LINK_PEER) | (1u << RK_LINK_STAGED),
  .ll_mirror = 1,
  .probe = cuda_probe,
  .open = cuda_open,
  .close = cuda_close,
  .alloc_mapped = cuda_alloc_mapped,
  .free = cuda_free,
  .alloc_device = cuda_alloc_device,
  .upload = cuda_upload,
  .peer = cuda_peer,
  .launch = cuda_launch,
  .doorbell = cuda_doorbell,
  .join = cuda_join,
  .check = cuda_check,
  .stage = cuda_stage,
  .stage_min = STAGE_MIN,
};

int
rk_cuda_device_info (int device_id, char *buf, size_t len)
{
  struct cudaDeviceProp prop;
  int drv = 0, rt = 0;
  if (cudaGetDeviceProperties (&prop, device_id) != cudaSuccess)
    return -ENODEV;
  cudaDriverGetVersion (&drv);
  cudaRuntimeGetVersion (&rt);
  snprintf (buf, len, "%s (sm_%d%d, %d SMs), driver %d.%d, runtime %d.%d", prop.name, prop.major,
      prop.minor, prop.multiProcessorCount, drv / 1000, drv % 1000 / 10, rt / 1000, rt % 1000 / 10);
  return 0;
}
