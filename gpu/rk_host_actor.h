/* gst-ringkernel: an actor served by a host thread.
 *
 * The thread runs rk_ref_actor_serve () (core/rk_ref_actor.c) over the rings of an rk_launch. The CPU
 * backend gives it the C reference handlers; a host-driven device path (CUDA mode=launch) gives it a
 * handler whose functions drive the device, so that the command semantics are written once.
 */
#ifndef RK_HOST_ACTOR_H
#define RK_HOST_ACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk_backend.h"

typedef struct rk_host_actor rk_host_actor;

/* What an actor served by a host thread does with K2K links (rk_host_actor_start ()'s `links`). */
enum rk_host_links {
  RK_HOST_LINKS_NONE = 0,  /* it refuses links */
  RK_HOST_LINKS = 1u << 0, /* the K2K addresses it gets (its inbox, routes) are host memory it may use */
  RK_HOST_LINKS_INBOX_MOVES = 1u << 1, /* and RK_CMD_INBOX may give it another inbox in host memory */
};

/* Start the thread. `state` (handler state, may be NULL) belongs to the actor from now on and is given
 * to free_state () once the thread has ended. `links`: enum rk_host_links. */
int rk_host_actor_start (const rk_launch *l, const rk_handler *handler, void *state,
    void (*free_state) (void *state), unsigned links, rk_host_actor **out, char *why, size_t why_len);

/* A handler that drives a device may defer the work of several records into one submission: the thread
 * calls open () before a run of records that it serves together (records that carry no K2K link), and
 * close () after it, before their answers are published. open () says whether this run is deferred;
 * while it is, process () may answer OK for work that close () completes. close () returns
 * RK_STATUS_OK, or the failure that then becomes the status of every PROCESS answer of the run that
 * said OK. */
typedef struct rk_host_batch {
  bool (*open) (void *state);
  uint32_t (*close) (void *state);
} rk_host_batch;

/* rk_host_actor_start () with batch hooks (NULL: none). */
int rk_host_actor_start_batched (const rk_launch *l, const rk_handler *handler, void *state,
    void (*free_state) (void *state), unsigned links, const rk_host_batch *batch, rk_host_actor **out,
    char *why, size_t why_len);
void rk_host_actor_doorbell (rk_host_actor *x);
/* Wait for the thread (after TERMINATE) and free everything; -ETIMEDOUT leaves it all in place. */
int rk_host_actor_join (rk_host_actor *x, int64_t timeout_ns);
int rk_host_actor_check (rk_host_actor *x, char *why, size_t why_len);

#endif /* RK_HOST_ACTOR_H */
