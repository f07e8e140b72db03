/* gst-ringkernel: reference semantics of the command set (see rk_ref_actor.h). */
#include "rk_ref_actor.h"

#include <math.h>
#include <string.h>

#include "rk_barrier.h"
#include "rk_hlc.h"

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
  rk_handler_default_params (a->handler, a->params);
  if (a->handler->init)
    a->handler->init (a->state);
  rk_ref_actor_set_state (a, RK_STATE_LAUNCHED, now_ns);
}

static bool
region_ok (uint64_t off, uint64_t len, uint64_t size)
{
  return off <= size && len <= size - off;
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
  if (i >= h->n_params)
    return RK_STATUS_INVALID;
  memcpy (&v, &req->u.desc.arg, sizeof v);
  if (isnan (v) || v < h->params[i].min || v > h->params[i].max)
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

  if ((req->flags & RK_REC_F_INLINE) || !region_ok (off, cap, a->out_size))
    return RK_STATUS_INVALID;
  if (cap < sizeof cp)
    return RK_STATUS_TOO_LARGE;
  if (h->save) {
    state_len = h->save (a->state, a->out_arena + off + sizeof cp, cap - sizeof cp, &st);
    if (st != RK_STATUS_OK)
      return st;
  }
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
  if (req->len < sizeof cp)
    return RK_STATUS_BAD_CHECKPOINT;
  p = a->in_arena + req->u.desc.in_off;
  memcpy (&cp, p, sizeof cp);
  if (cp.magic != RK_CHECKPOINT_MAGIC || cp.version != RK_ABI_VERSION || cp.kernel_id != h->id
      || cp.n_params != h->n_params || cp.state_len != req->len - sizeof cp)
    return RK_STATUS_BAD_CHECKPOINT;
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
      break;
    case RK_CMD_LINK:
      /* K2K routes are not served by the reference actor */
      st = RK_STATUS_UNSUPPORTED;
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
