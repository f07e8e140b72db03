/* gst-ringkernel: the host's handle on one running actor.
 *
 * rk_actor owns the actor's shared memory (control block, H2K and K2H rings, input and output payload
 * arenas), launches the actor through a backend, and gives the host two sides to drive it:
 *
 *   producer side: rk_actor_submit ()   (H2K; callers serialise among themselves)
 *   consumer side: rk_actor_receive ()  (K2H; callers serialise among themselves)
 *
 * Every record submitted is answered by exactly one record, in order. The output region of an answer
 * stays allocated until rk_actor_release_output (), so that output can leave as a buffer that wraps the
 * arena. Waits sleep until the actor (or a release) wakes them, and rk_actor_interrupt () ends them.
 * An rk_actor is reference-counted: buffers that wrap its output arena keep it alive.
 */
#ifndef RK_ACTOR_H
#define RK_ACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk_abi.h"
#include "rk_backend.h"

typedef struct rk_actor rk_actor;

typedef struct rk_actor_config {
  const rk_backend_ops *backend;
  int device_id;
  const rk_handler *handler;
  rk_actor_mode mode;
  const char *kernel_source, *kernel_path; /* a user handler (RK_KERNEL_USER), else NULL */
  uint32_t ring_entries;  /* power of two */
  uint64_t in_arena_size; /* bytes, multiple of RK_ARENA_ALIGN */
  uint64_t out_arena_size;
  uint32_t node; /* node id of the actor's clock */
  /* The parameters the actor starts with (the handler's n_params values), or NULL for its defaults.
   * A handler whose state depends on them (the wave's grid) sizes its state from these. */
  const double *params;
  /* K2K: bytes of the inbox's payload arena (a multiple of RK_ARENA_ALIGN), 0 for no inbox. The inbox
   * has ring_entries slots. Only persistent actors of a backend with device memory get one. */
  uint64_t inbox_arena_size;
} rk_actor_config;

typedef struct rk_answer {
  rk_record rec;      /* copy of the K2H record */
  uint64_t out_token; /* output region to hand back (0: none) */
  const uint8_t *out; /* output payload in the arena, or NULL when inline (rec.u.bytes) */
} rk_answer;

/* Allocate, launch and wait until the actor runs. Returns 0 or a negative errno with a reason. */
int rk_actor_new (const rk_actor_config *cfg, rk_actor **out, char *why, size_t why_len);
rk_actor *rk_actor_ref (rk_actor *a);
void rk_actor_unref (rk_actor *a);

/* Submit one record. The caller fills rec->type, hlc, node and, for SET_PARAM, u.desc.aux/arg; this
 * sets seq, flags, len and the payload placement. A linked PROCESS record (K2K) also carries
 * RK_REC_F_FROM_INBOX and/or RK_REC_F_TO_ROUTE in rec->flags, and the link sequence numbers in
 * u.desc.in_off (the inbox record it takes; payload NULL, len the length expected) and u.desc.out_off
 * (the record it forwards; out_cap 0). payload (len bytes) is copied into the record or the
 * input arena; out_cap bytes of output region are reserved for the answer. Waits for room.
 * Returns 0, -EINTR (interrupted), -ETIMEDOUT, -EMSGSIZE (never fits), -EIO (actor failed). */
int rk_actor_submit (rk_actor *a, rk_record *rec, const void *payload, uint32_t len, uint32_t out_cap,
    int64_t timeout_ns);
/* Submit n PROCESS records at once, one per msg_len-byte message of `payload` (n * msg_len bytes), each
 * with out_cap bytes of output; rec is their template (type, hlc, node), and rec->seq is set to the
 * first one's sequence number. The batch is one publication on the ring and one region in each arena:
 * every answer of it carries out_token 0 except the last, whose token hands back the output region of
 * the whole batch, so release it after reading the others. n is at most the ring's entries.
 * Returns as rk_actor_submit (). */
int rk_actor_submit_batch (rk_actor *a, rk_record *rec, uint32_t n, const void *payload, uint32_t msg_len,
    uint32_t out_cap, int64_t timeout_ns);
/* Zero copy in: reserve room for a payload in the input arena, write it at `ptr`, then submit it with
 * rk_actor_submit_input () (or hand the room back with rk_actor_release_input ()). */
typedef struct rk_input {
  uint8_t *ptr;
  uint64_t off, token;
  uint32_t len;
} rk_input;
int rk_actor_reserve_input (rk_actor *a, uint32_t len, rk_input *in, int64_t timeout_ns);
int rk_actor_submit_input (rk_actor *a, rk_record *rec, rk_input *in, uint32_t out_cap,
    int64_t timeout_ns);
void rk_actor_release_input (rk_actor *a, rk_input *in);

/* Would rk_actor_submit () of this size proceed without waiting? */
bool rk_actor_can_submit (rk_actor *a, uint32_t len, uint32_t out_cap);

/* Take the next answer. Waits. Returns 0, -EINTR, -ETIMEDOUT or -EIO. */
int rk_actor_receive (rk_actor *a, rk_answer *ans, int64_t timeout_ns);
/* As rk_actor_receive (), and it also gives up, with -EAGAIN, once *word no longer holds `seen` (an
 * answer there already is taken first): for a receiver with other work that may come while it waits.
 * Whoever changes the word (a 32-bit one, stored atomically) calls rk_actor_wake_receiver () after. */
int rk_actor_receive_unless (rk_actor *a, rk_answer *ans, int64_t timeout_ns, const uint32_t *word,
    uint32_t seen);
/* Wake a receiver asleep in rk_actor_receive_unless () to look at its word; cheap when none sleeps. */
void rk_actor_wake_receiver (rk_actor *a);
/* The next answer if one is there already: 0, -EAGAIN (none yet) or -EIO. Never waits. */
int rk_actor_try_receive (rk_actor *a, rk_answer *ans);
/* Up to max answers at once (waiting for the first as rk_actor_receive () does), with one release of
 * the ring: returns how many (at least 1) or a negative errno. */
int rk_actor_receive_batch (rk_actor *a, rk_answer *ans, uint32_t max, int64_t timeout_ns);
static inline const uint8_t *
rk_answer_data (const rk_answer *ans)
{
  return ans->out ? ans->out : ans->rec.u.bytes;
}
/* Whether the reader of an answer may keep its output region for as long as it likes: true when that
 * region, held alone, would leave the output arena room for the largest output region asked for so
 * far, and for a third of the arena at least. A region kept in the middle of the arena leaves room
 * only beside it, so keeping one that says false can stop every later record for good (a sink keeps
 * its last buffer). Any thread. */
bool rk_actor_output_keepable (rk_actor *a, uint64_t out_token);
/* Hand an answer's output region back; any thread. */
void rk_actor_release_output (rk_actor *a, uint64_t out_token);

/* ---- K2K links ----
 * The downstream actor owns an inbox; the upstream actor gets a route to it (RK_CMD_LINK) and forwards
 * its TO_ROUTE records there, on the device; the downstream actor takes them with FROM_INBOX records. */

/* What decides a link's path (rk_link_choose ()). */
typedef struct rk_link_facts {
  bool same_backend;
  bool consumer_inbox; /* the consumer has an inbox */
  bool same_device;
  bool force_staged;   /* link=staged on either side */
  unsigned paths;      /* the backend's link_paths */
  int peer;            /* two devices: 0 where the producer's device may write the consumer's memory */
} rk_link_facts;

/* The path a link takes given the facts, with the reason; RK_LINK_HOST where there is none. One
 * device: DEVICE. Two: PEER where they have peer access, else STAGED. link=staged: STAGED always. */
rk_link_path rk_link_choose (const rk_link_facts *f, char *why, size_t why_len);
const char *rk_link_path_name (rk_link_path path);
/* The path from producer `from` (a persistent actor) to consumer `to`, with the reason; where it is
 * PEER, the backend has opened the consumer's memory to the producer's device. */
rk_link_path rk_actor_link_path (rk_actor *from, rk_actor *to, bool force_staged, char *why,
    size_t why_len);
/* A route to this actor's inbox for `path` (for RK_CMD_LINK on a producer; RK_LINK_STAGED: an inbox in
 * mapped memory, made the first time), or false if it has none. RK_CMD_INBOX with the same route makes
 * the actor read that inbox. */
bool rk_actor_inbox_route (rk_actor *a, rk_link_path path, uint32_t route_id, rk_route *route);
/* Submit RK_CMD_INBOX: from now on read linked records from `inbox` (a route of this actor's own, from
 * rk_actor_inbox_route ()). Answered like any record. */
int rk_actor_submit_inbox (rk_actor *a, rk_record *rec, const rk_route *inbox, int64_t timeout_ns);
/* Submit RK_CMD_LINK: install route (or remove the route, if NULL). Answered like any record. */
int rk_actor_submit_link (rk_actor *a, rk_record *rec, const rk_route *route, int64_t timeout_ns);
/* Every linked record submitted so far stops waiting (for inbox data or route room) and is answered
 * RK_STATUS_CANCELLED, unless done already. For teardown: a flush, a stop, a broken link. */
void rk_actor_cancel_links (rk_actor *a);

/* While set, every wait returns -EINTR at once. */
void rk_actor_interrupt (rk_actor *a, bool on);

/* Submit TERMINATE (discarding answers to make room), wait until it is answered and join the actor.
 * Returns 0, -ETIMEDOUT or -EIO. Safe to call more than once. */
int rk_actor_stop (rk_actor *a, int64_t timeout_ns);

const rk_control *rk_actor_control (rk_actor *a);
const rk_handler *rk_actor_handler (rk_actor *a);
const rk_backend_ops *rk_actor_backend (rk_actor *a);
uint64_t rk_actor_in_flight (rk_actor *a);      /* submitted, not yet received */
uint32_t rk_actor_ring_high_water (rk_actor *a); /* most H2K records queued at once */
uint32_t rk_actor_ring_entries (rk_actor *a);
/* 0 while healthy, else a negative errno and the backend's reason. */
int rk_actor_check (rk_actor *a, char *why, size_t why_len);

#endif /* RK_ACTOR_H */
