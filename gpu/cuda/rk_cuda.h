/* gst-ringkernel: the interface between the CUDA backend's host code (C) and its device code (.cu). */
#ifndef RK_CUDA_H
#define RK_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "rk_abi.h"
#include "rk_ll.h"
#include "rk_spectrum.h"
#include "rk_wave.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Coordination of a persistent actor's blocks, in device memory (never in mapped memory). */
typedef struct rk_cuda_shared {
  uint64_t epoch;   /* bumped by the leader for each grid-wide work item */
  uint64_t done;    /* worker blocks finished with the current item, cumulative */
  uint32_t stop;    /* workers leave their loop */
  uint32_t op;      /* enum rk_kernel_id of the current item */
  uint64_t in;      /* device address of the input */
  uint64_t out;     /* device address of the output */
  uint32_t n;       /* float32 elements */
  uint32_t reserved_;
  double inv;       /* accumulate: 1 / count */
  double a, b;      /* scale */
  double p[RK_MAX_PARAMS]; /* every parameter (user handlers) */
  uint64_t staged;         /* 1 + the sequence number of the last payload the copy engine delivered */
  rk_wave_impulse imp;     /* the wave: the impulse being added */
  uint32_t bar_count, bar_gen; /* a grid-wide barrier: arrivals, and its generation */
  /* the spectrum: block 0's verdict on the command under way, for every block */
  uint32_t spec_status, spec_len, spec_ffts, spec_events, spec_nf, spec_reserved_;
  uint32_t arrived, started; /* worker blocks that began; the leader's verdict: 1 all resident, 2 not */
} rk_cuda_shared;

/* A batch of a spectrum command (core/rk_spectrum.h): its FFTs, then the sums they feed. */
typedef struct rk_cuda_spec_job {
  uint32_t j0, j1;   /* FFTs [j0, j1) of the command: their terms go to values slots 0 .. j1 - j0 */
  uint32_t e0, e1;   /* the events whose sums this batch makes */
  uint32_t nf, ends; /* at e0: FFTs in the interval so far, and intervals ended before */
  uint32_t restart;  /* the sums start from zero (the first batch of a RESTART command) */
  uint32_t reserved_;
  uint64_t fft_idx;  /* device address: the event of each FFT */
} rk_cuda_spec_job;

/* What a persistent actor kernel is launched with: device addresses. */
typedef struct rk_cuda_args {
  rk_control *ctl;
  rk_ring *h2k, *k2h;
  uint8_t *in_arena, *out_arena;
  uint64_t in_size, out_size;
  uint8_t *dev_in; /* device memory mirror of the input arena, for staged payloads (or NULL) */
  void *state;     /* handler state, device memory */
  rk_cuda_shared *sh;
  uint32_t kernel_id;
  uint32_t n_params;
  double params[RK_MAX_PARAMS];  /* defaults */
  double pmin[RK_MAX_PARAMS], pmax[RK_MAX_PARAMS];
  uint64_t state_size;
  uint32_t grid_threshold; /* payload bytes from which every block works on a record */
  uint32_t unit;           /* a payload's length is a multiple of this */
  uint32_t fixed_params;   /* a bit per parameter that SET_PARAM may not change */
  /* K2K: the actor's inbox (an rk_ring) and its payload arena, in device memory, or NULL */
  rk_ring *inbox;
  uint8_t *inbox_arena;
  uint64_t inbox_size;
  uint64_t inbox_ll; /* the inbox's low-latency mirror (core/rk_ll.h) */
  const rk_ll_line *h2k_ll; /* the H2K ring's, in mapped memory, or NULL */
  rk_ll_line *k2h_ll;       /* the K2H ring's, likewise */
} rk_cuda_args;

/* One record the traditional way (mode=launch): what rk_once_kernel is launched with. */
typedef struct rk_once_args {
  uint32_t kernel_id;
  int32_t reset; /* accumulate: the sums restart */
  void *state;
  const void *in;
  void *out;
  uint32_t len;
  uint32_t reserved_;
  double inv; /* accumulate: 1 / count */
  double params[RK_MAX_PARAMS];
  /* the wave: kernel_id is then one of its steps (an internal work code), a = format, b = stride */
  double a, b;
  rk_wave_impulse imp;
  rk_cuda_spec_job spec; /* the spectrum: in = the command in device memory, out = the answer */
} rk_once_args;

/* The signature of a user handler (kernel-file): every thread serving a record calls it with its own
 * first element and the stride between its elements; in and out hold len bytes. */
#define RK_USER_PROCESS_SIGNATURE                                                                   \
  void rk_user_process (const uint8_t *in, uint8_t *out, uint32_t len, const double *p,             \
      uint32_t first, uint32_t stride)

#define RK_CUDA_BLOCK 256

/* Load every kernel now (lazy loading could otherwise wait on a running persistent kernel).
 * Returns a cudaError_t. */
int rk_cuda_preload (void);
/* Let the build's actor and once kernels use up to smem bytes of dynamic shared memory. Called once,
 * when the device opens (before any of its kernels runs). Returns a cudaError_t. */
int rk_cuda_allow_smem (size_t smem);
/* Blocks of RK_CUDA_BLOCK threads of kernel (a launch handle) that fit on one SM with smem bytes of
 * dynamic shared memory each. Returns a cudaError_t. */
int rk_cuda_blocks_per_sm (const void *kernel, int *n, size_t smem);
/* Bytes of static shared memory that the actor kernel uses. */
int rk_cuda_actor_static_smem (size_t *bytes);
/* The build's own kernels, as launch handles. A program compiled at run time has the same two,
 * found by these names. */
const void *rk_cuda_builtin_actor_kernel (void);
const void *rk_cuda_builtin_once_kernel (void);
#define RK_CUDA_ACTOR_KERNEL_NAME "rk_actor_kernel"
#define RK_CUDA_ONCE_KERNEL_NAME "rk_once_kernel"

/* Launch a persistent actor (kernel: an actor kernel handle) as a cooperative kernel. Returns a
 * cudaError_t. */
int rk_cuda_launch_actor (const void *kernel, const rk_cuda_args *args, int grid, size_t smem,
    void *stream);
/* Traditional path (mode=launch): one launch of an rk_once_kernel for one record. */
int rk_cuda_launch_once (const void *kernel, const rk_once_args *args, int grid, size_t smem,
    void *stream);
/* The values of RK_ABI_LAYOUT as device code computes them; returns how many, or -1. */
int rk_cuda_abi_layout (uint64_t *out, int n);
/* "NAME (sm_XY, N SMs), driver X.Y, runtime X.Y" */
int rk_cuda_device_info (int device_id, char *buf, size_t len);

/* Put a handler's state (size bytes) in its initial value for params, on the stream. */
int rk_cuda_init_state (uint32_t kernel_id, void *state, size_t size, const double *params, void *stream);
/* The wave's steps the traditional way (mode=launch): internal work codes for rk_once_args.kernel_id. */
enum {
  RK_CUDA_ONCE_WAVE_STEP = 0x20,
  RK_CUDA_ONCE_WAVE_RENDER = 0x21,
  RK_CUDA_ONCE_WAVE_IMPULSE = 0x22,
  RK_CUDA_ONCE_WAVE_CLEAR = 0x23,
  /* the spectrum's, the same way */
  RK_CUDA_ONCE_SPEC_FFT = 0x30,  /* a block per FFT and channel of spec's batch */
  RK_CUDA_ONCE_SPEC_SUM = 0x31,  /* a thread per channel and band: the batch's sums and answers */
  RK_CUDA_ONCE_SPEC_RING = 0x32, /* the window keeps the last frames */
};
/* Dynamic shared memory a spectrum block needs: the FFT's two buffers. */
#define RK_CUDA_SPEC_SMEM(half) (2 * (size_t) (half) * sizeof (rk_cf))
/* Device memory copy bandwidth (GB/s, bytes read plus bytes written) over `bytes`-byte buffers: the
 * bound that memory-bound kernels are measured against. Returns a cudaError_t. */
int rk_cuda_copy_bandwidth (int device_id, size_t bytes, double *gbps);

#ifdef __cplusplus
}
#endif

#endif /* RK_CUDA_H */
