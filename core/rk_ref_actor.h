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

typedef struct rk_ref_actor {
  const rk_handler *handler;
  void *state; /* handler->state_size bytes, owned by the caller */
  double params[RK_MAX_PARAMS];
  uint8_t *in_arena;
  uint64_t in_size;
  uint8_t *out_arena;
  uint64_t out_size;
  rk_control *ctl; /* the actor writes lines 1 and 2 only */
} rk_ref_actor;

/* Initialise the handler state and parameters, enter LAUNCHED. */
void rk_ref_actor_init (rk_ref_actor *a, uint64_t now_ns);
/* Record a lifecycle transition in the control block. */
void rk_ref_actor_set_state (rk_ref_actor *a, uint32_t state, uint64_t now_ns);
/* Serve one record and write its answer. now_ns: the actor's clock (ns); wall_ms: physical time for the
 * HLC. Returns true when the actor must leave its loop (TERMINATE). */
bool rk_ref_actor_serve (rk_ref_actor *a, const rk_record *req, rk_record *ans, uint64_t now_ns,
    uint64_t wall_ms);

#endif /* RK_REF_ACTOR_H */
