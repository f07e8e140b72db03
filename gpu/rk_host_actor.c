/* gst-ringkernel: an actor served by a host thread (see rk_host_actor.h).
 *
 * The thread spins briefly when its ring runs dry, then sleeps on the control block's doorbell with the
 * handshake of rk_actor.c: set cons_waiting, full fence, re-check the ring, sleep; the host publishes,
 * fences, reads the flag and rings. A paused actor skips the spin.
 */
#include "rk_host_actor.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rk_ref_actor.h"
#include "rk_barrier.h"
#include "rk_hlc.h"
#include "rk_ring.h"
#include "rk_wait.h"

#define ACTOR_SPIN 4000
#define HEARTBEAT_NS (100 * 1000 * 1000) /* a sleeping actor still beats this often */

struct rk_host_actor {
  pthread_t thread;
  rk_ref_actor ref;
  rk_control *ctl;
  rk_ring *h2k, *k2h;
  uint32_t *host_wake;
  void *state;
  void (*free_state) (void *state);
  rk_host_batch batch;
};

static void
beat (rk_host_actor *x)
{
  rk_store_relaxed64 (&x->ctl->heartbeat, x->ctl->heartbeat + 1);
}

/* Wake the host if it sleeps on `flag` (a host-owned waiting word). */
static void
wake_host_if (rk_host_actor *x, uint32_t *flag)
{
  /* full fence: our publish is ordered before reading the host's flag; pairs with host_wait () */
  rk_fence_full ();
  if (rk_load_relaxed32 (flag))
    rk_futex_bump (x->host_wake);
}

/* Sleep on the doorbell until ready, setting our waiting flag around the sleep. */
static void
actor_wait (rk_host_actor *x, uint32_t *flag, bool (*ready) (rk_host_actor *))
{
  bool spin = rk_load_relaxed32 (&x->ctl->state) != RK_STATE_PAUSED;
  for (int i = 0; spin && i < ACTOR_SPIN; i++) {
    if (ready (x))
      return;
    rk_cpu_relax ();
  }
  for (;;) {
    uint32_t seq = rk_load_acquire32 (&x->ctl->doorbell);
    rk_store_relaxed32 (flag, 1);
    /* full fence: flag before the re-check; pairs with the host's fence after publishing */
    rk_fence_full ();
    if (ready (x)) {
      rk_store_relaxed32 (flag, 0);
      return;
    }
    rk_futex_wait (&x->ctl->doorbell, seq, HEARTBEAT_NS);
    rk_store_relaxed32 (flag, 0);
    beat (x);
  }
}

/* A linked record waits (rk_ref_actor.idle). For inbox data, sleep on the doorbell with the inbox's
 * waiting flag set, which the producer (another actor thread) reads after publishing, and which the
 * host's cancel also rings; for room on a route, whose consumer frees it as it works, poll. */
static void
link_idle (rk_ref_actor *ref, bool room)
{
  rk_host_actor *x = ref->user;
  if (room) {
    struct timespec ts = { 0, 20 * 1000 };
    nanosleep (&ts, NULL);
    beat (x);
    return;
  }
  rk_ring *in = ref->inbox.ring;
  uint32_t seq = rk_load_acquire32 (&x->ctl->doorbell);
  rk_store_relaxed32 (&in->cons_waiting, 1);
  /* full fence: the flag before the re-check; pairs with the producer's fence after publishing */
  rk_fence_full ();
  if (rk_ring_avail (in) == 0)
    rk_futex_wait (&x->ctl->doorbell, seq, HEARTBEAT_NS);
  rk_store_relaxed32 (&in->cons_waiting, 0);
  beat (x);
}

static bool
h2k_ready (rk_host_actor *x)
{
  return rk_ring_avail (x->h2k) > 0;
}

static bool
k2h_room (rk_host_actor *x)
{
  return rk_ring_free (x->k2h) > 0;
}

/* The deferred work of the k answers about to be published is done; a failure becomes theirs. */
static void
batch_close (rk_host_actor *x, uint32_t k)
{
  const uint32_t st = x->batch.close (x->state);
  if (st == RK_STATUS_OK)
    return;
  for (uint32_t i = 0; i < k; i++) {
    rk_record *ans = rk_ring_prod_slot (x->k2h, i);
    if (ans->type == RK_CMD_PROCESS && ans->status == RK_STATUS_OK) {
      ans->status = st;
      ans->flags |= RK_REC_F_ERROR;
      ans->len = 0;
      rk_store_relaxed32 (&x->ctl->last_error, st);
      rk_store_relaxed64 (&x->ctl->errors, x->ctl->errors + 1);
    }
  }
}

static void *
actor_main (void *arg)
{
  rk_host_actor *x = arg;
  bool stop = false;

  rk_ref_actor_init (&x->ref, rk_now_ns ());
  rk_ref_actor_set_state (&x->ref, RK_STATE_ACTIVE, rk_now_ns ());

  while (!stop) {
    uint32_t n = rk_ring_avail (x->h2k); /* load-acquire head: pairs with the host's publish */
    if (n == 0) {
      actor_wait (x, &x->h2k->cons_waiting, h2k_ready);
      continue;
    }
    uint32_t done = 0;
    rk_store_relaxed64 (&x->ctl->batches, x->ctl->batches + 1);
    while (done < n && !stop) {
      uint32_t room = rk_ring_free (x->k2h);
      if (room == 0) {
        actor_wait (x, &x->k2h->prod_waiting, k2h_room);
        continue;
      }
      /* serve what is there and fits, then publish the answers with one store-release */
      uint32_t k = 0;
      bool batched = false;
      while (k < room && done < n && !stop) {
        rk_record req = *rk_ring_cons_slot (x->h2k, done);
        const bool linked = (req.flags & (RK_REC_F_FROM_INBOX | RK_REC_F_TO_ROUTE)) != 0;
        /* a linked record may wait for another actor: answers before it go out first */
        if (k > 0 && linked)
          break;
        if (k == 0 && !linked && x->batch.open)
          batched = x->batch.open (x->state);
        stop = rk_ref_actor_serve (&x->ref, &req, rk_ring_prod_slot (x->k2h, k), rk_now_ns (),
            rk_hlc_wall_ms ());
        k++;
        done++;
      }
      if (batched)
        batch_close (x, k);
      rk_ring_publish (x->k2h, k); /* store-release head: pairs with the host's load-acquire */
      rk_store_relaxed64 (&x->ctl->records_out, x->ctl->records_out + k);
      wake_host_if (x, &x->k2h->cons_waiting);
    }
    rk_ring_release (x->h2k, done); /* store-release tail: pairs with the host's load-acquire */
    wake_host_if (x, &x->h2k->prod_waiting);
    beat (x);
  }
  rk_ref_actor_set_state (&x->ref, RK_STATE_TERMINATED, rk_now_ns ());
  return NULL;
}

int
rk_host_actor_start (const rk_launch *l, const rk_handler *handler, void *state,
    void (*free_state) (void *state), unsigned links, rk_host_actor **out, char *why, size_t why_len)
{
  return rk_host_actor_start_batched (l, handler, state, free_state, links, NULL, out, why, why_len);
}

int
rk_host_actor_start_batched (const rk_launch *l, const rk_handler *handler, void *state,
    void (*free_state) (void *state), unsigned links, const rk_host_batch *batch, rk_host_actor **out,
    char *why, size_t why_len)
{
  rk_host_actor *x = calloc (1, sizeof *x);
  if (!x) {
    if (free_state)
      free_state (state);
    return -ENOMEM;
  }
  if (batch)
    x->batch = *batch;
  x->ctl = l->ctl.host;
  x->h2k = l->h2k.host;
  x->k2h = l->k2h.host;
  x->host_wake = l->host_wake;
  x->state = state;
  x->free_state = free_state;
  x->ref = (rk_ref_actor) {
    .handler = handler,
    .state = state,
    .in_arena = l->in_arena.host,
    .in_size = l->in_arena.size,
    .out_arena = l->out_arena.host,
    .out_size = l->out_arena.size,
    .ctl = x->ctl,
    .links = links & RK_HOST_LINKS,
    .inbox_moves = (links & RK_HOST_LINKS_INBOX_MOVES) != 0,
    .idle = link_idle,
    .wake = rk_futex_bump,
    .user = x,
  };
  memcpy (x->ref.params, l->params, sizeof x->ref.params);
  if ((links & RK_HOST_LINKS) && l->inbox.size)
    x->ref.inbox = (rk_ref_link) {
      .ring = l->inbox.host,
      .arena = l->inbox_arena.host,
      .size = l->inbox_arena.size,
    };
  int r = pthread_create (&x->thread, NULL, actor_main, x);
  if (r != 0) {
    if (free_state)
      free_state (state);
    free (x);
    snprintf (why, why_len, "cannot start the actor thread: %s", strerror (r));
    return -r;
  }
  pthread_setname_np (x->thread, "rk-actor");
  *out = x;
  return 0;
}

void
rk_host_actor_doorbell (rk_host_actor *x)
{
  rk_futex_bump (&x->ctl->doorbell);
}

int
rk_host_actor_join (rk_host_actor *x, int64_t timeout_ns)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  int64_t ns = ts.tv_nsec + (timeout_ns > 0 ? timeout_ns : 0);
  ts.tv_sec += ns / 1000000000;
  ts.tv_nsec = ns % 1000000000;
  int r = pthread_timedjoin_np (x->thread, NULL, &ts);
  if (r != 0)
    return -ETIMEDOUT; /* the thread and its state are leaked: it may still touch them */
  if (x->free_state)
    x->free_state (x->state);
  free (x);
  return 0;
}

int
rk_host_actor_check (rk_host_actor *x, char *why, size_t why_len)
{
  if (rk_load_acquire32 (&x->ctl->state) == RK_STATE_FAILED) {
    snprintf (why, why_len, "the actor thread failed");
    return -EIO;
  }
  return 0;
}

