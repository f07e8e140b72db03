/* gst-ringkernel: reference semantics of the command set (see rk_ref_actor.h). */
#include "rk_ref_actor.h"

#include <math.h>
#include <string.h>

#include "rk_barrier.h"
#include "rk_hlc.h"
#include "rk_link.h"
#include "rk_ring.h"

#define LINK_SPIN 4000 /* polls of a link before the actor idles */

void
rk_ref_actor_set_state (rk_ref_actor *a, uint32_t state, uint64_t now_ns)
{
  rk_store_relaxed64 (&a->ctl->state_ns[state], now_ns);
  /* release: the timestamp above is visible to whoever acquires the new state */
  rk_store_release32 (&a->ctl->state, state);
}

void
rk_ref_actor_init (rk_ref_actor *a, uint64_t now_ns)
{
  if (a->handler->init)
    a->handler->init (a->state, a->params);
  rk_ref_actor_set_state (a, RK_STATE_LAUNCHED, now_ns);
}

static bool
region_ok (uint64_t off, uint64_t len, uint64_t size)
{
  return off <= size && len <= size - off;
}

static bool
cancelled (rk_ref_actor *a, const rk_record *req)
{
  return rk_load_acquire64 (&a->ctl->cancel) > req->seq;
}

/* Bump a counter of the control block's actor line (only the actor writes it). */
static void
count (uint64_t *counter, uint64_t n)
{
  rk_store_relaxed64 (counter, *counter + n);
}

/* FROM_INBOX: wait for link record `want` at the inbox's front, skipping older ones nobody asked for.
 * Returns OK with *rec (still in the inbox), or CANCELLED. */
static uint32_t
inbox_take (rk_ref_actor *a, const rk_record *req, uint64_t want, rk_record *rec)
{
  rk_ring *in = a->inbox.ring;
  for (uint32_t spins = 0;; spins++) {
    if (rk_ring_avail (in) > 0) { /* load-acquire head: pairs with the producer's release */
      *rec = *rk_ring_cons_slot (in, 0);
      if (rec->seq == want)
        return RK_STATUS_OK;
      if (rec->seq > want) /* dropped upstream: what follows belongs to later records */
        return RK_STATUS_CANCELLED;
      rk_ring_release (in, 1);
      count (&a->ctl->skipped_in, 1);
      spins = 0;
      continue;
    }
    if (cancelled (a, req))
      return RK_STATUS_CANCELLED;
    if (spins < LINK_SPIN)
      rk_cpu_relax ();
    else if (a->idle)
      a->idle (a, false);
  }
}

/* TO_ROUTE: wait for a slot and len bytes of room on the route. Returns OK with *off, or CLOSED,
 * CANCELLED, TOO_LARGE. */
static uint32_t
route_room (rk_ref_actor *a, const rk_record *req, uint32_t len, uint64_t *off)
{
  rk_ref_link *r = &a->route;
  if (rk_link_span (len) > r->size)
    return RK_STATUS_TOO_LARGE;
  for (uint32_t spins = 0;; spins++) {
    if (rk_load_acquire32 (&r->ring->closed))
      return RK_STATUS_CLOSED;
    uint32_t free = rk_ring_free (r->ring); /* load-acquire tail: the consumer is done with those */
    if (free > 0) {
      bool empty = free == r->ring->entries;
      uint64_t oldest = empty ? 0 : rk_ring_slots (r->ring)[(r->ring->head - (r->ring->entries - free))
          & r->ring->mask].u.desc.in_off;
      if (rk_link_place (r->pos, oldest, empty, r->size, len, off))
        return RK_STATUS_OK;
    }
    if (cancelled (a, req))
      return RK_STATUS_CANCELLED;
    if (spins < LINK_SPIN)
      rk_cpu_relax ();
    else if (a->idle)
      a->idle (a, true);
  }
}

/* Write link record `seq` (its payload already at off) into the route's inbox, and wake its reader. */
static void
route_put (rk_ref_actor *a, uint64_t seq, uint64_t off, uint32_t len, uint32_t status, uint64_t hlc)
{
  rk_ref_link *r = &a->route;
  rk_record lr;
  memset (&lr, 0, sizeof lr);
  lr.type = RK_CMD_PROCESS;
  lr.seq = seq;
  lr.hlc = hlc;
  lr.node = a->ctl->node;
  lr.status = status;
  lr.len = status == RK_STATUS_OK ? len : 0;
  if (status != RK_STATUS_OK)
    lr.flags = RK_REC_F_ERROR;
  lr.u.desc.in_off = off;
  *rk_ring_prod_slot (r->ring, 0) = lr;
  rk_ring_publish (r->ring, 1); /* store-release head: the payload before the record */
  r->pos = off + rk_link_span (lr.len);
  count (&a->ctl->routed_out, 1);
  /* full fence: head before the reader's waiting flag; pairs with its fence before re-checking */
  rk_fence_full ();
  if (r->doorbell && a->wake && rk_load_relaxed32 (&r->ring->cons_waiting))
    a->wake (r->doorbell);
}

/* PROCESS with RK_REC_F_FROM_INBOX and/or RK_REC_F_TO_ROUTE. The input is an inbox record or an input
 * region; the output goes to the route or to an output region. A record that fails is still forwarded,
 * as an error record, so that every actor down the link sees every link sequence number. */
static uint32_t
serve_linked (rk_ref_actor *a, const rk_record *req, rk_record *ans, uint64_t wall_ms)
{
  const rk_handler *h = a->handler;
  const bool from = req->flags & RK_REC_F_FROM_INBOX, to = req->flags & RK_REC_F_TO_ROUTE;
  const uint8_t *in = NULL;
  uint8_t *out = NULL;
  uint32_t len = req->len, cap = 0, out_len = 0, st = RK_STATUS_OK;
  uint64_t off = 0;
  bool took = false, route_ok = false;
  rk_record lr;

  if (!a->links || (req->flags & RK_REC_F_INLINE))
    return a->links ? RK_STATUS_INVALID : RK_STATUS_UNSUPPORTED;
  if (from) {
    if (!a->inbox.ring)
      return RK_STATUS_UNSUPPORTED;
    st = inbox_take (a, req, req->u.desc.in_off, &lr);
    took = st == RK_STATUS_OK;
    if (took) {
      if (lr.flags & RK_REC_F_ERROR)
        st = lr.status ? lr.status : RK_STATUS_FAULT; /* failed upstream: pass the failure on */
      else if (!region_ok (lr.u.desc.in_off, lr.len, a->inbox.size))
        st = RK_STATUS_INVALID;
      else
        rk_hlc_recv_at (&a->ctl->hlc, lr.hlc, wall_ms);
      in = a->inbox.arena + lr.u.desc.in_off;
      len = lr.len;
    }
  } else if (!region_ok (req->u.desc.in_off, req->len, a->in_size)) {
    st = RK_STATUS_INVALID;
  } else {
    in = a->in_arena + req->u.desc.in_off;
  }
  if (st == RK_STATUS_OK && len % h->unit)
    st = RK_STATUS_INVALID;

  if (to) {
    if (!a->route.ring)
      st = RK_STATUS_NO_ROUTE;
    else {
      /* room for out_cap bytes (a wave frame), or as many as come in */
      cap = req->u.desc.out_cap ? req->u.desc.out_cap : len;
      uint32_t rs = route_room (a, req, st == RK_STATUS_OK ? cap : 0, &off);
      route_ok = rs == RK_STATUS_OK || rs == RK_STATUS_TOO_LARGE;
      if (rs != RK_STATUS_OK && st == RK_STATUS_OK)
        st = rs;
      if (rs == RK_STATUS_TOO_LARGE) /* it still goes on, as an error record */
        route_ok = route_room (a, req, 0, &off) == RK_STATUS_OK;
    }
    out = a->route.arena + off;
  } else if (!region_ok (req->u.desc.out_off, req->u.desc.out_cap, a->out_size)) {
    if (st == RK_STATUS_OK)
      st = RK_STATUS_INVALID;
  } else {
    out = a->out_arena + req->u.desc.out_off;
    cap = req->u.desc.out_cap;
  }

  if (st == RK_STATUS_OK)
    st = h->process (a->state, a->params, in, len, out, cap, &out_len);
  if (took) {
    rk_ring_release (a->inbox.ring, 1); /* done with its payload: the producer may reuse it */
    count (&a->ctl->routed_in, 1);
  }
  if (to && route_ok)
    route_put (a, req->u.desc.out_off, off, out_len, st, rk_hlc_tick_at (&a->ctl->hlc, wall_ms));
  if (to)
    ans->flags |= RK_REC_F_TO_ROUTE;
  if (st == RK_STATUS_OK)
    ans->len = out_len;
  return st;
}

/* The rk_route in a LINK or INBOX record's payload, checked: an inbox ring laid out for this ABI, and
 * a payload arena. Returns OK with *rt (inbox_addr 0: none, for LINK only), or INVALID. */
static uint32_t
read_route (rk_ref_actor *a, const rk_record *req, rk_route *rt)
{
  if ((req->flags & RK_REC_F_INLINE) || req->len != sizeof *rt
      || !region_ok (req->u.desc.in_off, req->len, a->in_size))
    return RK_STATUS_INVALID;
  memcpy (rt, a->in_arena + req->u.desc.in_off, sizeof *rt);
  if (!rt->inbox_addr)
    return RK_STATUS_OK;
  const rk_ring *ring = (const rk_ring *) (uintptr_t) rt->inbox_addr;
  /* a low-latency mirror (rk_ll.h) is the GPU's: allowed on a device-scope route, and not used here */
  const bool ll_bad = rt->ll_addr && ((rt->flags & RK_ROUTE_F_SYSTEM) || (rt->ll_addr & 15));
  if ((rt->flags & ~(uint32_t) RK_ROUTE_F_SYSTEM) || !rt->arena_addr || !rt->arena_size || ll_bad
      || rt->arena_size % RK_LINK_ALIGN || ring->version != RK_ABI_VERSION
      || ring->record_size != RK_RECORD_SIZE || ring->entries == 0 || ring->mask != ring->entries - 1)
    return RK_STATUS_INVALID;
  return RK_STATUS_OK;
}

/* RK_CMD_LINK: install the route in the payload (or remove it). The host's atomics order at system
 * scope always: RK_ROUTE_F_SYSTEM asks for nothing more here. */
static uint32_t
serve_link (rk_ref_actor *a, const rk_record *req)
{
  rk_route rt;
  if (!a->links)
    return RK_STATUS_UNSUPPORTED;
  uint32_t st = read_route (a, req, &rt);
  if (st != RK_STATUS_OK)
    return st;
  if (!rt.inbox_addr) {
    memset (&a->route, 0, sizeof a->route);
    return RK_STATUS_OK;
  }
  rk_ring *ring = (rk_ring *) (uintptr_t) rt.inbox_addr;
  rk_ref_link *r = &a->route;
  r->ring = ring;
  r->arena = (uint8_t *) (uintptr_t) rt.arena_addr;
  r->size = rt.arena_size;
  r->doorbell = (uint32_t *) (uintptr_t) rt.doorbell_addr;
  r->route_id = rt.route_id;
  /* this actor is the inbox's only producer from now on: go on after what the last one wrote */
  uint64_t head = ring->head, tail = rk_load_acquire64 (&ring->tail);
  r->pos = 0;
  if (head != tail) {
    const rk_record *newest = &rk_ring_slots (ring)[(head - 1) & ring->mask];
    r->pos = newest->u.desc.in_off + rk_link_span (newest->len);
  }
  return RK_STATUS_OK;
}

/* RK_CMD_INBOX: read linked records from the inbox in the payload from now on. Every linked record
 * before this one has been served, so the inbox left holds nothing anybody asked for. */
static uint32_t
serve_inbox (rk_ref_actor *a, const rk_record *req)
{
  rk_route rt;
  if (!a->links || !a->inbox_moves || !a->inbox.ring) /* an actor started without an inbox */
    return RK_STATUS_UNSUPPORTED;
  uint32_t st = read_route (a, req, &rt);
  if (st != RK_STATUS_OK)
    return st;
  if (!rt.inbox_addr)
    return RK_STATUS_INVALID;
  a->inbox.ring = (rk_ring *) (uintptr_t) rt.inbox_addr;
  a->inbox.arena = (uint8_t *) (uintptr_t) rt.arena_addr;
  a->inbox.size = rt.arena_size;
  return RK_STATUS_OK;
}

static uint32_t
serve_process (rk_ref_actor *a, const rk_record *req, rk_record *ans)
{
  const rk_handler *h = a->handler;
  const uint8_t *in;
  uint8_t *out;
  uint32_t cap, out_len = 0;

  if (req->flags & RK_REC_F_INLINE) {
    if (req->len > RK_INLINE_MAX)
      return RK_STATUS_INVALID;
    in = req->u.bytes;
    out = ans->u.bytes;
    cap = RK_INLINE_MAX;
  } else {
    if (!region_ok (req->u.desc.in_off, req->len, a->in_size)
        || !region_ok (req->u.desc.out_off, req->u.desc.out_cap, a->out_size))
      return RK_STATUS_INVALID;
    in = a->in_arena + req->u.desc.in_off;
    out = a->out_arena + req->u.desc.out_off;
    cap = req->u.desc.out_cap;
  }
  if (req->len % h->unit)
    return RK_STATUS_INVALID;
  uint32_t st = h->process (a->state, a->params, in, req->len, out, cap, &out_len);
  if (st == RK_STATUS_OK)
    ans->len = out_len;
  return st;
}

static uint32_t
serve_set_param (rk_ref_actor *a, const rk_record *req)
{
  const rk_handler *h = a->handler;
  uint32_t i = req->u.desc.aux;
  double v;
  memcpy (&v, &req->u.desc.arg, sizeof v);
  if (!rk_handler_param_ok (h, i, v))
    return RK_STATUS_INVALID;
  a->params[i] = v;
  return RK_STATUS_OK;
}

static uint32_t
serve_snapshot (rk_ref_actor *a, const rk_record *req, rk_record *ans)
{
  const rk_handler *h = a->handler;
  uint64_t off = req->u.desc.out_off, cap = req->u.desc.out_cap;
  rk_checkpoint cp;
  uint32_t st = RK_STATUS_OK;
  uint64_t state_len = 0;

  if ((h->state_size || h->state_size_for) && !h->save)
    return RK_STATUS_UNSUPPORTED; /* state that this backend does not take out */
  if ((req->flags & RK_REC_F_INLINE) || !region_ok (off, cap, a->out_size))
    return RK_STATUS_INVALID;
  if (h->save) /* nothing is written where it does not fit */
    state_len = h->save (a->state, a->out_arena + off + sizeof cp, cap > sizeof cp ? cap - sizeof cp : 0,
        &st);
  if (st == RK_STATUS_OK && cap < sizeof cp)
    st = RK_STATUS_TOO_LARGE;
  if (st == RK_STATUS_TOO_LARGE)
    ans->u.desc.out_cap = (uint32_t) (sizeof cp + state_len); /* what it needs */
  if (st != RK_STATUS_OK)
    return st;
  memset (&cp, 0, sizeof cp);
  cp.magic = RK_CHECKPOINT_MAGIC;
  cp.version = RK_ABI_VERSION;
  cp.kernel_id = h->id;
  cp.n_params = h->n_params;
  cp.state_len = state_len;
  cp.hlc = rk_load_relaxed64 (&a->ctl->hlc);
  memcpy (cp.params, a->params, sizeof cp.params);
  memcpy (a->out_arena + off, &cp, sizeof cp);
  ans->len = (uint32_t) (sizeof cp + state_len);
  return RK_STATUS_OK;
}

static uint32_t
serve_restore (rk_ref_actor *a, const rk_record *req, uint64_t wall_ms)
{
  const rk_handler *h = a->handler;
  rk_checkpoint cp;
  const uint8_t *p;

  if ((req->flags & RK_REC_F_INLINE) || !region_ok (req->u.desc.in_off, req->len, a->in_size))
    return RK_STATUS_INVALID;
  if ((h->state_size || h->state_size_for) && !h->load)
    return RK_STATUS_UNSUPPORTED;
  if (req->len < sizeof cp)
    return RK_STATUS_BAD_CHECKPOINT;
  p = a->in_arena + req->u.desc.in_off;
  memcpy (&cp, p, sizeof cp);
  if (cp.magic != RK_CHECKPOINT_MAGIC || cp.version != RK_ABI_VERSION || cp.kernel_id != h->id
      || cp.n_params != h->n_params || cp.state_len != req->len - sizeof cp)
    return RK_STATUS_BAD_CHECKPOINT;
  for (uint32_t i = 0; i < h->n_params; i++)
    if ((h->fixed_params & (1u << i)) && cp.params[i] != a->params[i])
      return RK_STATUS_BAD_CHECKPOINT; /* a state of another shape */
  if (h->load) {
    uint32_t st = h->load (a->state, p + sizeof cp, cp.state_len);
    if (st != RK_STATUS_OK)
      return st;
  } else if (cp.state_len != 0) {
    return RK_STATUS_BAD_CHECKPOINT;
  }
  memcpy (a->params, cp.params, sizeof a->params);
  /* the restored actor's clock never goes behind the one that was saved */
  rk_hlc_recv_at (&a->ctl->hlc, cp.hlc, wall_ms);
  return RK_STATUS_OK;
}

bool
rk_ref_actor_serve (rk_ref_actor *a, const rk_record *req, rk_record *ans, uint64_t now_ns,
    uint64_t wall_ms)
{
  rk_control *ctl = a->ctl;
  bool stop = false;
  uint32_t st;

  if (req->hlc)
    rk_hlc_recv_at (&ctl->hlc, req->hlc, wall_ms);
  else
    rk_hlc_tick_at (&ctl->hlc, wall_ms);

  memset (ans, 0, sizeof *ans);
  ans->type = req->type;
  ans->seq = req->seq;
  ans->node = ctl->node;
  if (!(req->flags & RK_REC_F_INLINE)) {
    ans->u.desc.out_off = req->u.desc.out_off;
    ans->u.desc.out_cap = req->u.desc.out_cap;
  }

  switch (req->type) {
    case RK_CMD_PROCESS:
      if (req->flags & (RK_REC_F_FROM_INBOX | RK_REC_F_TO_ROUTE)) {
        st = serve_linked (a, req, ans, wall_ms);
        break;
      }
      st = serve_process (a, req, ans);
      if (req->flags & RK_REC_F_INLINE)
        ans->flags |= RK_REC_F_INLINE;
      break;
    case RK_CMD_SET_PARAM:
      st = serve_set_param (a, req);
      break;
    case RK_CMD_PAUSE:
      rk_ref_actor_set_state (a, RK_STATE_PAUSED, now_ns);
      st = RK_STATUS_OK;
      break;
    case RK_CMD_RESUME:
      rk_ref_actor_set_state (a, RK_STATE_ACTIVE, now_ns);
      st = RK_STATUS_OK;
      break;
    case RK_CMD_DRAIN:
      /* records are served in order: everything before this one has been answered */
      st = RK_STATUS_OK;
      break;
    case RK_CMD_SNAPSHOT:
      st = serve_snapshot (a, req, ans);
      break;
    case RK_CMD_RESTORE:
      st = serve_restore (a, req, wall_ms);
      break;
    case RK_CMD_TERMINATE:
      st = RK_STATUS_OK;
      stop = true;
      /* the inbox is read no more: a producer waiting for room there gives up */
      if (a->inbox.ring)
        rk_store_release32 (&a->inbox.ring->closed, 1);
      break;
    case RK_CMD_LINK:
      st = serve_link (a, req);
      break;
    case RK_CMD_INBOX:
      st = serve_inbox (a, req);
      break;
    default:
      st = RK_STATUS_UNKNOWN_CMD;
      break;
  }

  ans->status = st;
  if (st != RK_STATUS_OK) {
    ans->flags |= RK_REC_F_ERROR;
    ans->len = 0;
    rk_store_relaxed32 (&ctl->last_error, st);
    rk_store_relaxed64 (&ctl->errors, ctl->errors + 1);
  }
  if (!(ans->flags & RK_REC_F_INLINE))
    ans->u.desc.arg = now_ns; /* when the actor served it: device-side timing */
  ans->hlc = rk_hlc_tick_at (&ctl->hlc, wall_ms);
  rk_store_relaxed64 (&ctl->records_in, ctl->records_in + 1);
  rk_store_relaxed64 (&ctl->last_seq, req->seq);
  return stop;
}
