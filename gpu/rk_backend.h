/* gst-ringkernel: the internal table of functions behind which each backend lives.
 *
 * A backend provides memory the host and its actors share, launches an actor over rings laid out by
 * rk_abi.h, wakes it, and reports faults. Everything above this table (gpu/rk_actor.c, the elements) is
 * backend-independent. A backend that was not built answers with a stub that says so.
 */
#ifndef RK_BACKEND_H
#define RK_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "rk_abi.h"
#include "rk_handlers.h"

typedef enum rk_backend_kind {
  RK_BACKEND_AUTO = 0,
  RK_BACKEND_CPU = 1,
  RK_BACKEND_CUDA = 2,
  RK_BACKEND_VULKAN = 3,
} rk_backend_kind;

typedef enum rk_actor_mode {
  RK_MODE_PERSISTENT = 0, /* one long-lived kernel serves the rings */
  RK_MODE_LAUNCH = 1,     /* the traditional way: one kernel launch and synchronisation per record */
} rk_actor_mode;

/* How a K2K link joins a producer actor to its consumer's inbox. */
typedef enum rk_link_path {
  RK_LINK_HOST = 0,   /* no K2K link: the data passes through the host, in buffers */
  RK_LINK_DEVICE = 1, /* one device: the consumer's inbox in its device memory */
  RK_LINK_PEER = 2,   /* two devices: the producer writes into the consumer's device memory (peer access) */
  RK_LINK_STAGED = 3, /* the inbox in host memory that both devices map: the producer writes it, the
                       * consumer reads it, across the bus */
  RK_LINK_PATH_COUNT_
} rk_link_path;

typedef struct rk_device rk_device; /* a backend's runtime on one device */

typedef struct rk_mem {
  void *host;    /* host address (NULL for device-only memory) */
  uint64_t dev;  /* address as the actor sees it */
  size_t size;
  void *priv;
} rk_mem;

/* What an actor is launched with. Memory was allocated through the same backend. */
typedef struct rk_launch {
  const rk_handler *handler;
  rk_actor_mode mode;
  /* A user handler's source (handler id RK_KERNEL_USER) and the path it came from, else NULL. */
  const char *kernel_source, *kernel_path;
  double params[RK_MAX_PARAMS]; /* what the actor starts with */
  size_t state_size;            /* rk_handler_state_size () for those */
  rk_mem ctl, h2k, k2h, in_arena, out_arena;
  /* K2K: the actor's inbox (an rk_ring) and its payload arena, in device memory; size 0 when none. */
  rk_mem inbox, inbox_arena;
  /* ... and its low-latency mirror (core/rk_ll.h), where the backend has one (ll_mirror) */
  rk_mem inbox_ll;
  /* The H2K and K2H rings' low-latency mirrors, in mapped memory (ll_mirror, persistent actors); size
   * 0 when none. */
  rk_mem h2k_ll, k2h_ll;
  /* Host futex word the actor bumps when the host may be waiting (a K2H record was published with
   * k2h.cons_waiting set, or H2K room appeared with h2k.prod_waiting set). Backends that cannot wake
   * the host ignore it and the host polls. */
  uint32_t *host_wake;
} rk_launch;

typedef struct rk_actor_impl rk_actor_impl;

typedef struct rk_backend_ops {
  const char *name;
  rk_backend_kind kind;
  /* Can the host sleep until the actor wakes it (1), or must it poll (0)? */
  int wakes_host;
  /* Modes served, as a bit mask of (1 << rk_actor_mode). */
  unsigned modes;
  /* K2K paths its persistent actors take, as a bit mask of (1 << rk_link_path): DEVICE where they link
   * on one device; STAGED where a consumer may read an inbox in mapped memory (RK_CMD_INBOX); PEER
   * where peer () may let a producer write into another device's memory. */
  unsigned link_paths;
  /* Low-latency mirrors (core/rk_ll.h): its persistent actors read the H2K ring's mirror, which the
   * host then writes beside the ring; on the K2K DEVICE path they also publish small link records in
   * the inbox's mirror, which the inbox then gets. */
  int ll_mirror;
  /* 0 when the backend works on device_id, else a negative errno and a reason. */
  int (*probe) (int device_id, char *why, size_t why_len);
  /* Optional: the same for backend=auto, which may pass over what the backend only does when asked
   * (a Vulkan device that is the CPU). */
  int (*probe_auto) (int device_id, char *why, size_t why_len);
  int (*open) (int device_id, rk_device **dev, char *why, size_t why_len);
  void (*close) (rk_device *dev);
  /* Memory that both the host and the actor read and write. */
  int (*alloc_mapped) (rk_device *dev, size_t size, rk_mem *mem);
  void (*free) (rk_device *dev, rk_mem *mem);
  /* Optional (K2K): memory only the actors read and write, zeroed; `host` is set only where the host
   * can address it too. upload () writes into it from the host, synchronously. */
  int (*alloc_device) (rk_device *dev, size_t size, rk_mem *mem);
  int (*upload) (rk_device *dev, rk_mem *mem, size_t off, const void *src, size_t len);
  /* Optional (PEER): let actors on `from` read and write the device memory of `to`, another device.
   * 0, or a negative errno and the reason (the two have no peer access). */
  int (*peer) (rk_device *from, rk_device *to, char *why, size_t why_len);
  int (*launch) (rk_device *dev, const rk_launch *l, rk_actor_impl **impl, char *why, size_t why_len);
  /* The host published H2K records (or released K2H slots) and the actor asked to be woken. */
  void (*doorbell) (rk_actor_impl *impl);
  /* The actor has answered TERMINATE (or is being abandoned): wait for it to end, free its resources.
   * Returns 0, or -ETIMEDOUT if it did not end in time (its resources are then leaked on purpose). */
  int (*join) (rk_actor_impl *impl, int64_t timeout_ns);
  /* 0 while healthy; a negative errno and a reason after a fault. */
  int (*check) (rk_actor_impl *impl, char *why, size_t why_len);
  /* Optional: start moving an input payload of at least stage_min bytes to the device by its own
   * means (a copy engine), without waiting; 0 means the record may carry RK_REC_F_STAGED. */
  int (*stage) (rk_actor_impl *impl, uint64_t seq, uint64_t in_off, uint32_t len);
  uint32_t stage_min;
} rk_backend_ops;

/* The ops of a backend kind, or NULL with the reason (e.g. not built). AUTO is not a kind here. */
const rk_backend_ops *rk_backend_get (rk_backend_kind kind, char *why, size_t why_len);
/* The best working backend for device_id, in the order CUDA, Vulkan, CPU; `why` tells why each better
 * one was passed over. */
const rk_backend_ops *rk_backend_pick (int device_id, char *why, size_t why_len);
const char *rk_backend_kind_name (rk_backend_kind kind);

extern const rk_backend_ops rk_backend_cpu;

#endif /* RK_BACKEND_H */
