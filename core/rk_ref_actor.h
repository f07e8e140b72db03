/* gst-ringkernel: the actor's side of the protocol, in C.
 *
 * rk_ref_actor_serve () is what an actor does with one H2K record: the command set's reference
 * semantics. The CPU backend calls it from its actor thread; the device backends implement the same
 * rules and are tested against it.
 */
#ifndef RK_REF_ACTOR_H
#define RK_REF_ACTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "rk_abi.h"
#include "rk_handlers.h"

/* One side of a K2K link, as the actor sees it. */
typedef struct rk_ref_link {
  rk_ring *ring;      /* NULL: none */
  uint8_t *arena;
  uint64_t size;
  uint64_t pos;       /* producer: end of the newest payload (rk_link.h) */
  uint32_t *doorbell; /* producer: the consumer's doorbell, rung when it sleeps (or NULL) */
  uint32_t route_id;
} rk_ref_link;

typedef struct rk_ref_actor rk_ref_actor;

struct rk_ref_actor {
  const rk_handler *handler;
  void *state; /* rk_handler_state_size () bytes, owned by the caller */
  double params[RK_MAX_PARAMS]; /* set by the caller before rk_ref_actor_init () */
  uint8_t *in_arena;
  uint64_t in_size;
  uint8_t *out_arena;
  uint64_t out_size;
  rk_control *ctl; /* the actor writes lines 1 and 2 only */
  /* K2K, when links are host-addressable (the CPU backend): the actor's own inbox, and the route that
   * RK_CMD_LINK installs. Without `links`, LINK and linked records are refused as unsupported. */
  bool links;
  /* RK_CMD_INBOX may point the actor at another inbox (in host memory), as a K2K link between two
   * devices needs; else it answers UNSUPPORTED. */
  bool inbox_moves;
  rk_ref_link inbox, route;
  /* A linked record waits: for inbox data (room false) or for room on the route (room true). Called
   * after a short spin; returns after a while, and the caller checks again. */
  void (*idle) (rk_ref_actor *a, bool room);
  /* Wake a consumer sleeping on `doorbell` (a link's). */
  void (*wake) (uint32_t *doorbell);
  void *user;
};

/* Initialise the handler state for the parameters in a->params, enter LAUNCHED. */
void rk_ref_actor_init (rk_ref_actor *a, uint64_t now_ns);
/* Record a lifecycle transition in the control block. */
void rk_ref_actor_set_state (rk_ref_actor *a, uint32_t state, uint64_t now_ns);
/* Serve one record and write its answer. now_ns: the actor's clock (ns); wall_ms: physical time for the
 * HLC. Returns true when the actor must leave its loop (TERMINATE). */
bool rk_ref_actor_serve (rk_ref_actor *a, const rk_record *req, rk_record *ans, uint64_t now_ns,
    uint64_t wall_ms);

#endif /* RK_REF_ACTOR_H */
