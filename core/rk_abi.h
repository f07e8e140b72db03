/* gst-ringkernel: the shared-memory ABI.
 *
 * Every structure that both the host and an actor (a CPU thread, a CUDA kernel, a Vulkan dispatch) read
 * or write is defined here, and only here. This header compiles unchanged as C11 and as CUDA C++; sizes
 * and offsets are checked at compile time below and again by tests from both compilers.
 *
 * Who writes what
 * ---------------
 * Ring (rk_ring): the producer owns line 0 (head, prod_waiting), the consumer owns line 1 (tail,
 * cons_waiting); line 2 is written once by the host before the actor starts. Records live in the slots
 * that follow the header. Producer: write the slot, then store-release head. Consumer: load-acquire head,
 * read the slots, then store-release tail. The producer load-acquires tail before reusing a slot.
 * Indices are free-running 64-bit counters; slot = index & mask.
 *
 *   H2K: producer = host, consumer = actor.     K2H: producer = actor, consumer = host.
 *
 * Control block (rk_control): line 0 is written by the host only, lines 1 and 2 by the actor only,
 * line 3 is reserved and must be zero. Nobody read-modify-writes a line that the other side writes.
 *
 * Records are 64 bytes. A command record (H2K) is answered by exactly one record (K2H) with the same type
 * and sequence number; a refused command comes back with RK_REC_F_ERROR set and a status code.
 */
#ifndef RK_ABI_H
#define RK_ABI_H

#include <stddef.h>
#include <stdint.h>

#if defined(__CUDACC_RTC__)
/* NVRTC (user handlers compiled at run time) has no constant offsetof: the same layout is checked by
 * the C compiler and by nvcc at build time, and on the device by tests/gpu. */
#define RK_STATIC_ASSERT(cond, msg) static_assert (true, msg)
#elif defined(__cplusplus)
#define RK_STATIC_ASSERT(cond, msg) static_assert (cond, msg)
#else
#define RK_STATIC_ASSERT(cond, msg) _Static_assert (cond, msg)
#endif

/* Functions in these headers that device code calls too. */
#if defined(__CUDACC__)
#define RK_HD __host__ __device__
#else
#define RK_HD
#endif

#define RK_ABI_VERSION 4u
#define RK_CONTROL_MAGIC 0x314b4352u /* "RCK1" little endian */

#define RK_RECORD_SIZE 64u
#define RK_LINE_SIZE 128u /* two 64-byte cache lines: no false sharing with the adjacent-line prefetcher */
#define RK_INLINE_MAX 32u /* payload bytes that fit in a record */
#define RK_MAX_PARAMS 8u  /* parameters of one handler */
#define RK_ARENA_ALIGN 256u

/* Commands (H2K). An answer (K2H) carries the type of the command it answers. */
enum rk_cmd {
  RK_CMD_PROCESS = 1,   /* run the handler over the payload, answer with the output */
  RK_CMD_SET_PARAM = 2, /* desc.aux = parameter index, desc.arg = IEEE-754 double bits */
  RK_CMD_PAUSE = 3,     /* stop autonomous work and poll slowly; records are still served in order */
  RK_CMD_RESUME = 4,    /* back to active polling */
  RK_CMD_DRAIN = 5,     /* fence: answered once every earlier record has been answered */
  RK_CMD_SNAPSHOT = 6,  /* write an rk_checkpoint into the output region; answer len = its size (TOO_LARGE:
                         * the answer's u.desc.out_cap says how many bytes it needs) */
  RK_CMD_RESTORE = 7,   /* replace params and state from the rk_checkpoint in the payload */
  RK_CMD_TERMINATE = 8, /* answer, then leave the loop; state becomes TERMINATED */
  RK_CMD_LINK = 9,      /* install a K2K route: payload is an rk_route */
  RK_CMD_INBOX = 10,    /* K2K, consumer side: read linked records from the inbox in the payload (an
                         * rk_route: the actor's own inbox, or one in host memory) from now on */
  RK_CMD_COUNT_
};

/* Record flags. */
enum rk_rec_flags {
  RK_REC_F_INLINE = 1u << 0, /* payload is in u.bytes, not in an arena */
  RK_REC_F_ERROR = 1u << 1,  /* answer only: command refused or failed, see status */
  RK_REC_F_STAGED = 1u << 2, /* the payload is also being copied to the device's mirror of the input
                              * arena (same offset); the actor waits for that copy and reads it */
  /* K2K (PROCESS only, never inline). Link records are named by link sequence numbers, unique and
   * increasing on one inbox. */
  RK_REC_F_FROM_INBOX = 1u << 3, /* the input is the inbox record whose link sequence number is
                                  * desc.in_off, not a region of the input arena; inbox records before
                                  * it that nobody asked for are skipped */
  RK_REC_F_TO_ROUTE = 1u << 4,   /* the output goes to the installed route's inbox as the record with
                                  * link sequence number desc.out_off, instead of an output region,
                                  * with room there for desc.out_cap bytes (0: the input's length); the
                                  * answer carries the flag and the length forwarded, and no payload */
  RK_REC_F_LL_OUT = 1u << 5,     /* answer only: its payload (len bytes) is in the K2H ring's
                                  * low-latency mirror after the record (core/rk_ll.h), not in the
                                  * output region; the host copies it there as it takes the answer */
};

/* Status codes carried by answers (independent of the host's errno numbering). */
enum rk_status {
  RK_STATUS_OK = 0,
  RK_STATUS_UNSUPPORTED = 1, /* this backend cannot serve this command */
  RK_STATUS_INVALID = 2,     /* malformed record: bad index, region out of bounds, bad length */
  RK_STATUS_TOO_LARGE = 3,   /* payload larger than the handler's state or output region */
  RK_STATUS_UNKNOWN_CMD = 4, /* type not in enum rk_cmd */
  RK_STATUS_BAD_CHECKPOINT = 5,
  RK_STATUS_FAULT = 6,       /* the actor failed; see rk_control.last_error */
  RK_STATUS_CANCELLED = 7,   /* a linked record gave up: the host cancelled its wait, or the link record
                              * it asked for was dropped upstream (a flush, a teardown) */
  RK_STATUS_CLOSED = 8,      /* the route's consumer no longer reads its inbox: nothing was forwarded */
  RK_STATUS_NO_ROUTE = 9,    /* RK_REC_F_TO_ROUTE with no route installed */
  RK_STATUS_NOT_RESIDENT = 10, /* a GPU actor's blocks could not all run at once (the GPU is full):
                                * the actor ended before serving anything */
};

/* Actor lifecycle, written by the actor into rk_control.state. */
enum rk_state {
  RK_STATE_NONE = 0,
  RK_STATE_LAUNCHED = 1,
  RK_STATE_ACTIVE = 2,
  RK_STATE_PAUSED = 3,
  RK_STATE_DRAINING = 4,
  RK_STATE_TERMINATED = 5,
  RK_STATE_FAILED = 6,
  RK_STATE_COUNT_
};

/* Where a payload lives when it does not fit in a record. Offsets are into arenas that the element
 * owns: the input arena (H2K payloads) and the output arena (K2H payloads). */
typedef struct rk_desc {
  uint64_t in_off;  /* input payload offset in the input arena */
  uint64_t out_off; /* output region offset in the output arena */
  uint32_t out_cap; /* bytes available at out_off */
  uint32_t aux;     /* command specific (SET_PARAM: parameter index) */
  uint64_t arg;     /* command specific (SET_PARAM: value bits; answers: actor time in ns) */
} rk_desc;

typedef struct rk_record {
  uint16_t type;   /* enum rk_cmd */
  uint16_t flags;  /* enum rk_rec_flags */
  uint32_t len;    /* payload length in bytes */
  uint64_t seq;    /* sequence number, set by the host, echoed by the answer */
  uint64_t hlc;    /* hybrid logical clock timestamp of the sender (0: none) */
  uint32_t node;   /* node id of the sender's clock */
  uint32_t status; /* answers: enum rk_status */
  union {
    uint8_t bytes[RK_INLINE_MAX];
    rk_desc desc;
  } u;
} rk_record;

/* A ring header, followed in the same allocation by `entries` 64-byte slots. */
typedef struct rk_ring {
  /* line 0: producer only */
  uint64_t head;         /* next index the producer writes */
  uint32_t prod_waiting; /* producer is (about to be) asleep waiting for room */
  uint32_t reserved0_;   /* must be 0 */
  uint8_t pad0_[RK_LINE_SIZE - 16];
  /* line 1: consumer only */
  uint64_t tail;         /* next index the consumer reads */
  uint32_t cons_waiting; /* consumer is (about to be) asleep waiting for records */
  uint32_t closed;       /* K2K inbox: the consumer reads no more; a producer stops waiting for room */
  uint8_t pad1_[RK_LINE_SIZE - 16];
  /* line 2: written once before the actor starts */
  uint32_t entries;     /* power of two */
  uint32_t mask;        /* entries - 1 */
  uint32_t record_size; /* RK_RECORD_SIZE */
  uint32_t version;     /* RK_ABI_VERSION */
  uint8_t pad2_[RK_LINE_SIZE - 16];
} rk_ring;

#define RK_RING_BYTES(entries) (sizeof (rk_ring) + (size_t) (entries) * RK_RECORD_SIZE)

/* The control block: sticky state, not queued. */
typedef struct rk_control {
  /* line 0: host only */
  uint32_t magic;     /* RK_CONTROL_MAGIC */
  uint32_t version;   /* RK_ABI_VERSION */
  uint32_t doorbell;  /* bumped by the host to wake a sleeping actor (futex word on the CPU backend) */
  uint32_t node;      /* node id of the actor's clock */
  uint32_t kernel_id; /* handler id */
  uint32_t reserved0_;
  uint64_t created_ns; /* host CLOCK_REALTIME at creation */
  uint64_t cancel;     /* a linked record with seq < cancel stops waiting (for inbox data or route room)
                        * and is answered RK_STATUS_CANCELLED; only ever raised */
  uint64_t k2h_fast;   /* answers the host took from the K2H ring's low-latency mirror (rk_ll.h) */
  uint8_t pad0_[RK_LINE_SIZE - 48];
  /* line 1: actor only */
  uint32_t state;      /* enum rk_state */
  uint32_t last_error; /* enum rk_status of the last refused or failed record */
  uint64_t heartbeat;  /* increases while the actor's loop runs (also while it waits) */
  uint64_t hlc;        /* the actor's clock */
  uint64_t records_in; /* records taken from H2K */
  uint64_t records_out;
  uint64_t errors; /* answers sent with RK_REC_F_ERROR */
  uint64_t last_seq;
  uint64_t batches; /* times the actor took records from H2K: records_in / batches is its mean batch */
  uint64_t routed_out; /* link records written into the route's inbox (K2K, on the device) */
  uint64_t routed_in;  /* link records taken from the actor's own inbox */
  uint64_t skipped_in; /* inbox records skipped because nobody asked for them */
  uint64_t fast_in;    /* of routed_in: link records taken from the inbox's low-latency mirror (rk_ll.h) */
  uint64_t h2k_fast;   /* of records_in: records taken from the H2K ring's low-latency mirror */
  uint8_t pad1_[RK_LINE_SIZE - 104];
  /* line 2: actor only. Actor time (ns) of the last entry into each state. */
  uint64_t state_ns[RK_STATE_COUNT_];
  uint8_t pad2_[RK_LINE_SIZE - 8 * RK_STATE_COUNT_];
  /* line 3 */
  uint8_t reserved_[RK_LINE_SIZE]; /* must be 0 */
} rk_control;

/* Route flags. */
enum rk_route_flags {
  /* The producer and the consumer of the inbox are on different devices, or the inbox is in host
   * memory: both order their accesses to it at system scope, not device scope. */
  RK_ROUTE_F_SYSTEM = 1u << 0,
};

/* A K2K route, installed in an upstream actor by RK_CMD_LINK (its payload; inbox_addr 0 removes the
 * route): the downstream actor's inbox is an rk_ring (with its slots) with a payload arena beside it,
 * in the downstream device's memory, or in host memory that both devices map (RK_CMD_INBOX tells the
 * consumer which inbox it reads, and at which scope). Each inbox record is a PROCESS record whose seq is its link sequence number and
 * whose desc.in_off places its payload in that arena. The producer allocates payloads in order, as a
 * ring of bytes (rk_link.h); the consumer releases a record, and with it its payload, by advancing the
 * ring's tail once it is done with the payload. */
typedef struct rk_route {
  uint64_t inbox_addr; /* device address of the downstream inbox ring */
  uint64_t arena_addr; /* device address of the downstream payload arena */
  uint64_t arena_size;
  uint32_t route_id;
  uint32_t dst_node;
  uint32_t flags;        /* enum rk_route_flags */
  uint32_t reserved0_;   /* must be 0 */
  uint64_t doorbell_addr; /* host address of the consumer's futex doorbell (CPU backend), or 0 */
  uint64_t ll_addr; /* device address of the inbox's low-latency mirror (rk_ll.h), or 0 for none; only
                     * on a route without RK_ROUTE_F_SYSTEM */
  uint32_t reserved_[2]; /* must be 0 */
} rk_route;

/* Checkpoint (RK_CMD_SNAPSHOT / RK_CMD_RESTORE): this header, then state_len bytes of handler state. */
#define RK_CHECKPOINT_MAGIC 0x50434b52u /* "RKCP" */
typedef struct rk_checkpoint {
  uint32_t magic;
  uint32_t version;
  uint32_t kernel_id;
  uint32_t n_params;
  uint64_t state_len;
  uint64_t hlc;
  double params[RK_MAX_PARAMS];
} rk_checkpoint;

/* Layout checks: if one of these fails, the host and the device disagree. */
RK_STATIC_ASSERT (sizeof (rk_desc) == 32, "rk_desc is 32 bytes");
RK_STATIC_ASSERT (sizeof (rk_record) == RK_RECORD_SIZE, "rk_record is 64 bytes");
RK_STATIC_ASSERT (offsetof (rk_record, type) == 0, "rk_record.type");
RK_STATIC_ASSERT (offsetof (rk_record, flags) == 2, "rk_record.flags");
RK_STATIC_ASSERT (offsetof (rk_record, len) == 4, "rk_record.len");
RK_STATIC_ASSERT (offsetof (rk_record, seq) == 8, "rk_record.seq");
RK_STATIC_ASSERT (offsetof (rk_record, hlc) == 16, "rk_record.hlc");
RK_STATIC_ASSERT (offsetof (rk_record, node) == 24, "rk_record.node");
RK_STATIC_ASSERT (offsetof (rk_record, status) == 28, "rk_record.status");
RK_STATIC_ASSERT (offsetof (rk_record, u) == 32, "rk_record.u");
RK_STATIC_ASSERT (offsetof (rk_desc, in_off) == 0, "rk_desc.in_off");
RK_STATIC_ASSERT (offsetof (rk_desc, out_off) == 8, "rk_desc.out_off");
RK_STATIC_ASSERT (offsetof (rk_desc, out_cap) == 16, "rk_desc.out_cap");
RK_STATIC_ASSERT (offsetof (rk_desc, aux) == 20, "rk_desc.aux");
RK_STATIC_ASSERT (offsetof (rk_desc, arg) == 24, "rk_desc.arg");

RK_STATIC_ASSERT (sizeof (rk_ring) == 3 * RK_LINE_SIZE, "rk_ring is three lines");
RK_STATIC_ASSERT (offsetof (rk_ring, head) == 0, "rk_ring.head on line 0");
RK_STATIC_ASSERT (offsetof (rk_ring, prod_waiting) == 8, "rk_ring.prod_waiting on line 0");
RK_STATIC_ASSERT (offsetof (rk_ring, tail) == RK_LINE_SIZE, "rk_ring.tail on line 1");
RK_STATIC_ASSERT (offsetof (rk_ring, cons_waiting) == RK_LINE_SIZE + 8, "rk_ring.cons_waiting");
RK_STATIC_ASSERT (offsetof (rk_ring, closed) == RK_LINE_SIZE + 12, "rk_ring.closed");
RK_STATIC_ASSERT (offsetof (rk_ring, entries) == 2 * RK_LINE_SIZE, "rk_ring.entries on line 2");
RK_STATIC_ASSERT (offsetof (rk_ring, mask) == 2 * RK_LINE_SIZE + 4, "rk_ring.mask");
RK_STATIC_ASSERT (offsetof (rk_ring, record_size) == 2 * RK_LINE_SIZE + 8, "rk_ring.record_size");
RK_STATIC_ASSERT (offsetof (rk_ring, version) == 2 * RK_LINE_SIZE + 12, "rk_ring.version");

RK_STATIC_ASSERT (sizeof (rk_control) == 4 * RK_LINE_SIZE, "rk_control is four lines");
RK_STATIC_ASSERT (offsetof (rk_control, magic) == 0, "rk_control.magic");
RK_STATIC_ASSERT (offsetof (rk_control, doorbell) == 8, "rk_control.doorbell");
RK_STATIC_ASSERT (offsetof (rk_control, node) == 12, "rk_control.node");
RK_STATIC_ASSERT (offsetof (rk_control, kernel_id) == 16, "rk_control.kernel_id");
RK_STATIC_ASSERT (offsetof (rk_control, created_ns) == 24, "rk_control.created_ns");
RK_STATIC_ASSERT (offsetof (rk_control, cancel) == 32, "rk_control.cancel");
RK_STATIC_ASSERT (offsetof (rk_control, k2h_fast) == 40, "rk_control.k2h_fast");
RK_STATIC_ASSERT (offsetof (rk_control, state) == RK_LINE_SIZE, "rk_control.state on line 1");
RK_STATIC_ASSERT (offsetof (rk_control, last_error) == RK_LINE_SIZE + 4, "rk_control.last_error");
RK_STATIC_ASSERT (offsetof (rk_control, heartbeat) == RK_LINE_SIZE + 8, "rk_control.heartbeat");
RK_STATIC_ASSERT (offsetof (rk_control, hlc) == RK_LINE_SIZE + 16, "rk_control.hlc");
RK_STATIC_ASSERT (offsetof (rk_control, records_in) == RK_LINE_SIZE + 24, "rk_control.records_in");
RK_STATIC_ASSERT (offsetof (rk_control, records_out) == RK_LINE_SIZE + 32, "rk_control.records_out");
RK_STATIC_ASSERT (offsetof (rk_control, errors) == RK_LINE_SIZE + 40, "rk_control.errors");
RK_STATIC_ASSERT (offsetof (rk_control, last_seq) == RK_LINE_SIZE + 48, "rk_control.last_seq");
RK_STATIC_ASSERT (offsetof (rk_control, batches) == RK_LINE_SIZE + 56, "rk_control.batches");
RK_STATIC_ASSERT (offsetof (rk_control, routed_out) == RK_LINE_SIZE + 64, "rk_control.routed_out");
RK_STATIC_ASSERT (offsetof (rk_control, skipped_in) == RK_LINE_SIZE + 80, "rk_control.skipped_in");
RK_STATIC_ASSERT (offsetof (rk_control, fast_in) == RK_LINE_SIZE + 88, "rk_control.fast_in");
RK_STATIC_ASSERT (offsetof (rk_control, h2k_fast) == RK_LINE_SIZE + 96, "rk_control.h2k_fast");
RK_STATIC_ASSERT (offsetof (rk_control, state_ns) == 2 * RK_LINE_SIZE, "rk_control.state_ns on line 2");
RK_STATIC_ASSERT (offsetof (rk_control, reserved_) == 3 * RK_LINE_SIZE, "rk_control.reserved_ on line 3");

RK_STATIC_ASSERT (sizeof (rk_route) == 64, "rk_route is 64 bytes");
RK_STATIC_ASSERT (offsetof (rk_route, inbox_addr) == 0, "rk_route.inbox_addr");
RK_STATIC_ASSERT (offsetof (rk_route, arena_addr) == 8, "rk_route.arena_addr");
RK_STATIC_ASSERT (offsetof (rk_route, arena_size) == 16, "rk_route.arena_size");
RK_STATIC_ASSERT (offsetof (rk_route, route_id) == 24, "rk_route.route_id");
RK_STATIC_ASSERT (offsetof (rk_route, dst_node) == 28, "rk_route.dst_node");
RK_STATIC_ASSERT (offsetof (rk_route, flags) == 32, "rk_route.flags");
RK_STATIC_ASSERT (offsetof (rk_route, doorbell_addr) == 40, "rk_route.doorbell_addr");
RK_STATIC_ASSERT (offsetof (rk_route, ll_addr) == 48, "rk_route.ll_addr");

RK_STATIC_ASSERT (sizeof (rk_checkpoint) == 32 + 8 * RK_MAX_PARAMS, "rk_checkpoint header");
RK_STATIC_ASSERT (offsetof (rk_checkpoint, state_len) == 16, "rk_checkpoint.state_len");
RK_STATIC_ASSERT (offsetof (rk_checkpoint, hlc) == 24, "rk_checkpoint.hlc");
RK_STATIC_ASSERT (offsetof (rk_checkpoint, params) == 32, "rk_checkpoint.params");

/* One table of every checked layout, used by the tests to compare the two compilers' views. */
#define RK_ABI_LAYOUT(X)                                                                              \
  X (sizeof (rk_record)) X (sizeof (rk_desc)) X (sizeof (rk_ring)) X (sizeof (rk_control))           \
  X (sizeof (rk_route)) X (sizeof (rk_checkpoint)) X (offsetof (rk_record, seq))                     \
  X (offsetof (rk_record, hlc)) X (offsetof (rk_record, node)) X (offsetof (rk_record, status))      \
  X (offsetof (rk_record, u)) X (offsetof (rk_desc, out_off)) X (offsetof (rk_desc, out_cap))        \
  X (offsetof (rk_desc, aux)) X (offsetof (rk_desc, arg)) X (offsetof (rk_ring, tail))               \
  X (offsetof (rk_ring, cons_waiting)) X (offsetof (rk_ring, entries))                               \
  X (offsetof (rk_ring, version)) X (offsetof (rk_control, doorbell))                                \
  X (offsetof (rk_control, state)) X (offsetof (rk_control, heartbeat))                              \
  X (offsetof (rk_control, hlc)) X (offsetof (rk_control, last_seq))                                 \
  X (offsetof (rk_control, batches)) X (offsetof (rk_control, cancel))                             \
  X (offsetof (rk_control, routed_out)) X (offsetof (rk_control, skipped_in))                       \
  X (offsetof (rk_ring, closed)) X (offsetof (rk_route, doorbell_addr))                             \
  X (offsetof (rk_control, state_ns)) X (offsetof (rk_control, reserved_))                           \
  X (offsetof (rk_route, flags)) X (offsetof (rk_checkpoint, params))                               \
  X (offsetof (rk_route, ll_addr)) X (offsetof (rk_control, fast_in))                               \
  X (offsetof (rk_control, h2k_fast)) X (offsetof (rk_control, k2h_fast))

RK_HD static inline rk_record *
rk_ring_slots (rk_ring *r)
{
  return (rk_record *) (void *) ((char *) r + sizeof (rk_ring));
}

#endif /* RK_ABI_H */
