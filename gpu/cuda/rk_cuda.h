/* gst-ringkernel: the interface between the CUDA backend's host code (C) and its device code (.cu). */
#ifndef RK_CUDA_H
#define RK_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "rk_abi.h"

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
} rk_cuda_shared;

/* What a persistent actor kernel is launched with: device addresses. */
typedef struct rk_cuda_args {
  rk_control *ctl;
  rk_ring *h2k, *k2h;
  uint8_t *in_arena, *out_arena;
  uint64_t in_size, out_size;
  void *state; /* handler state, device memory */
  rk_cuda_shared *sh;
  uint32_t kernel_id;
  uint32_t n_params;
  double params[RK_MAX_PARAMS];  /* defaults */
  double pmin[RK_MAX_PARAMS], pmax[RK_MAX_PARAMS];
  uint64_t state_size;
  uint32_t grid_threshold; /* payload bytes from which every block works on a record */
  uint32_t reserved_;
} rk_cuda_args;

#define RK_CUDA_BLOCK 256

/* Load every kernel now (lazy loading could otherwise wait on a running persistent kernel).
 * Returns a cudaError_t. */
int rk_cuda_preload (void);
/* Blocks of RK_CUDA_BLOCK threads of the actor kernel that fit on one SM. */
int rk_cuda_actor_blocks_per_sm (int *n);
/* Launch a persistent actor as a cooperative kernel. Returns a cudaError_t. */
int rk_cuda_launch_actor (const rk_cuda_args *args, int grid, void *stream);

/* Traditional path (mode=launch): one kernel per record, same device code; for accumulate the host
 * passes 1/count and whether the sums restart. Returns a cudaError_t. */
int rk_cuda_launch_once (uint32_t kernel_id, void *state, double a, double b, double inv, int reset,
    const void *in, void *out, uint32_t len, int grid, void *stream);
/* The values of RK_ABI_LAYOUT as device code computes them; returns how many, or -1. */
int rk_cuda_abi_layout (uint64_t *out, int n);
/* "NAME (sm_XY, N SMs), driver X.Y, runtime X.Y" */
int rk_cuda_device_info (int device_id, char *buf, size_t len);

/* Put a handler's state in its initial value, on the stream. */
int rk_cuda_init_state (uint32_t kernel_id, void *state, void *stream);

#ifdef __cplusplus
}
#endif

#endif /* RK_CUDA_H */
