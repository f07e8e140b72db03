/* gst-ringkernel: the host's handle on one running actor (see rk_actor.h). */
#include "rk_actor.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rk_arena.h"
#include "rk_barrier.h"
#include "rk_hlc.h"
#include "rk_ll.h"
#include "rk_ring.h"
#include "rk_wait.h"

#define SPIN_ITERATIONS 2000
#define SPIN_NS (50 * 1000) /* how long a host wait spins before it sleeps */
#define FAULT_CHECK_NS (100 * 1000 * 1000) /* a sleeping host looks for actor faults this often */
#define POLL_NS (20 * 1000)                /* sleep slice when the actor cannot wake the host */
#define START_TIMEOUT_NS (10ull * 1000 * 1000 * 1000) /* how long rk_actor_new () waits for ACTIVE */

typedef struct rk_inflight {
  uint64_t seq;
  uint64_t in_token, out_token, out_off;
  uint32_t out_cap;
  bool batch; /* one of a batch: its output region is the batch's, handed back by the caller */
  bool routed; /* TO_ROUTE: the answer carries no payload */
} rk_inflight;

struct rk_actor {
  int refcount;
  const rk_backend_ops *ops;
  rk_device *dev;
  const rk_handler *handler;
  int device_id;
  rk_mem ctl_mem, h2k_mem, k2h_mem, in_mem, out_mem, inbox_mem, inbox_arena_mem;
  rk_mem ll_mem; /* K2K: the inbox's low-latency mirror (core/rk_ll.h), where the backend has one */
  rk_mem h2k_ll_mem, k2h_ll_mem; /* the H2K and K2H rings' low-latency mirrors, in mapped memory */
  /* K2K, RK_LINK_STAGED: a second inbox in mapped memory, made when a link first asks for it */
  rk_mem staged_mem, staged_arena_mem;
  rk_control *ctl;
  rk_ring *h2k, *k2h;
  rk_actor_impl *impl;
  uint32_t entries;

  pthread_mutex_t lock; /* arenas and inflight[] */
  rk_arena in_arena, out_arena;
  uint64_t out_max; /* the largest output region asked for a record's result so far (lock) */
  rk_inflight *inflight; /* indexed by seq & (entries - 1): at most `entries` in flight */

  uint64_t submitted; /* producer side */
  uint64_t received;  /* consumer side */
  uint32_t host_wake; /* futex word: bumped when something a host thread may wait on changed */
  uint32_t interrupted;
  uint32_t high_water;

  int stopped, stop_result;
  int ended; /* the actor is known to have ended (joined): its memory may be freed */
};

/* ---- memory ---- */

static void
free_mem (rk_actor *a)
{
  rk_mem *mems[] = { &a->ctl_mem, &a->h2k_mem, &a->k2h_mem, &a->in_mem, &a->out_mem, &a->inbox_mem,
    &a->inbox_arena_mem, &a->ll_mem, &a->h2k_ll_mem, &a->k2h_ll_mem, &a->staged_mem, &a->staged_arena_mem };
  for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
    if (mems[i]->size)
      a->ops->free (a->dev, mems[i]);
}

static void
destroy (rk_actor *a)
{
  if (!a->stopped)
    rk_actor_stop (a, 2000000000);
  if (a->stop_result == 0 || a->ended)
    free_mem (a); /* an actor that never ended may still touch its memory: leak it instead */
  if (a->dev)
    a->ops->close (a->dev);
  rk_arena_clear (&a->in_arena);
  rk_arena_clear (&a->out_arena);
  free (a->inflight);
  pthread_mutex_destroy (&a->lock);
  free (a);
}

rk_actor *
rk_actor_ref (rk_actor *a)
{
  atomic_fetch_add_explicit ((_Atomic int *) &a->refcount, 1, memory_order_relaxed);
  return a;
}

void
rk_actor_unref (rk_actor *a)
{
  if (a && atomic_fetch_sub_explicit ((_Atomic int *) &a->refcount, 1, memory_order_acq_rel) == 1)
    destroy (a);
}

/* Wait until a launched actor runs: it leaves NONE and LAUNCHED before it serves anything. Nothing
 * wakes the host on this transition, so poll (spin, then short sleeps), watching for faults. */
static int
wait_running (rk_actor *a, char *why, size_t why_len)
{
  uint64_t deadline = rk_now_ns () + START_TIMEOUT_NS;
  for (int i = 0;; i++) {
    int r = a->ops->check (a->impl, why, why_len);
    if (r < 0)
      return r;
    uint32_t st = rk_load_acquire32 (&a->ctl->state);
    if (st == RK_STATE_FAILED) {
      snprintf (why, why_len, "the actor failed as it started");
      return -EIO;
    }
    if (st != RK_STATE_NONE && st != RK_STATE_LAUNCHED)
      return 0;
    if (rk_now_ns () >= deadline) {
      snprintf (why, why_len, "%s backend: the actor did not start within %llu s", a->ops->name,
          START_TIMEOUT_NS / 1000000000ull);
      return -ETIMEDOUT;
    }
    if (i < SPIN_ITERATIONS) {
      rk_cpu_relax ();
    } else {
      struct timespec ts = { 0, POLL_NS };
      nanosleep (&ts, NULL);
    }
  }
}

/* The K2K inbox: a ring and a payload arena in device memory, the ring laid out from the host. */
static int
alloc_inbox (rk_actor *a, uint64_t arena_size, char *why, size_t why_len)
{
  const size_t ring_bytes = RK_RING_BYTES (a->entries);
  int r;

  if (arena_size % RK_ARENA_ALIGN) {
    snprintf (why, why_len, "inbox arena size must be a multiple of %u", RK_ARENA_ALIGN);
    return -EINVAL;
  }
  r = a->ops->alloc_device (a->dev, ring_bytes, &a->inbox_mem);
  if (r == 0)
    r = a->ops->alloc_device (a->dev, arena_size, &a->inbox_arena_mem);
  if (r == 0 && a->ops->ll_mirror) /* zeroed: no slot holds a flag yet */
    r = a->ops->alloc_device (a->dev, (size_t) a->entries * RK_LL_SLOT_BYTES, &a->ll_mem);
  if (r == 0) {
    void *ring = malloc (ring_bytes);
    r = ring ? 0 : -ENOMEM;
    if (ring) {
      rk_ring_init (ring, a->entries, 0);
      r = a->ops->upload (a->dev, &a->inbox_mem, 0, ring, ring_bytes);
      free (ring);
    }
  }
  if (r < 0)
    snprintf (why, why_len, "%s backend: cannot set up a %llu-byte inbox: %s", a->ops->name,
        (unsigned long long) arena_size, strerror (-r));
  return r;
}

int
rk_actor_new (const rk_actor_config *cfg, rk_actor **out, char *why, size_t why_len)
{
  rk_actor *a;
  int r;

  *out = NULL;
  if (!cfg->backend || !cfg->handler) {
    snprintf (why, why_len, "no backend or handler");
    return -EINVAL;
  }
  if (!(cfg->backend->modes & (1u << cfg->mode))) {
    snprintf (why, why_len, "the %s backend has no %s mode", cfg->backend->name,
        cfg->mode == RK_MODE_LAUNCH ? "launch" : "persistent");
    return -ENOTSUP;
  }
  if (!rk_is_pow2 (cfg->ring_entries) || cfg->ring_entries < 2) {
    snprintf (why, why_len, "ring size %u is not a power of two of at least 2", cfg->ring_entries);
    return -EINVAL;
  }
  if (cfg->in_arena_size % RK_ARENA_ALIGN || cfg->out_arena_size % RK_ARENA_ALIGN
      || !cfg->in_arena_size || !cfg->out_arena_size) {
    snprintf (why, why_len, "arena sizes must be non-zero multiples of %u", RK_ARENA_ALIGN);
    return -EINVAL;
  }

  a = calloc (1, sizeof *a);
  if (!a) {
    snprintf (why, why_len, "out of memory");
    return -ENOMEM;
  }
  a->refcount = 1;
  a->ops = cfg->backend;
  a->device_id = cfg->device_id;
  a->handler = cfg->handler;
  a->entries = cfg->ring_entries;
  a->stop_result = 0;
  pthread_mutex_init (&a->lock, NULL);
  a->inflight = calloc (a->entries, sizeof *a->inflight);
  if (!a->inflight || rk_arena_init (&a->in_arena, cfg->in_arena_size) < 0
      || rk_arena_init (&a->out_arena, cfg->out_arena_size) < 0) {
    snprintf (why, why_len, "out of memory");
    a->stopped = 1;
    destroy (a);
    return -ENOMEM;
  }

  r = a->ops->open (cfg->device_id, &a->dev, why, why_len);
  if (r < 0) {
    a->stopped = 1;
    destroy (a);
    return r;
  }

  struct {
    rk_mem *mem;
    size_t size;
  } allocs[] = {
    { &a->ctl_mem, sizeof (rk_control) },
    { &a->h2k_mem, RK_RING_BYTES (a->entries) },
    { &a->k2h_mem, RK_RING_BYTES (a->entries) },
    { &a->in_mem, cfg->in_arena_size },
    { &a->out_mem, cfg->out_arena_size },
  };
  for (size_t i = 0; i < sizeof allocs / sizeof allocs[0]; i++) {
    r = a->ops->alloc_mapped (a->dev, allocs[i].size, allocs[i].mem);
    if (r < 0) {
      snprintf (why, why_len, "%s backend: cannot allocate %zu bytes of shared memory: %s",
          a->ops->name, allocs[i].size, strerror (-r));
      a->stopped = 1;
      destroy (a);
      return r;
    }
  }

  if (a->ops->ll_mirror && cfg->mode == RK_MODE_PERSISTENT) {
    const size_t bytes = (size_t) a->entries * RK_LL_SLOT_BYTES;
    rk_mem *mirrors[2] = { &a->h2k_ll_mem, &a->k2h_ll_mem };
    for (int i = 0; i < 2; i++) {
      r = a->ops->alloc_mapped (a->dev, bytes, mirrors[i]);
      if (r < 0) {
        snprintf (why, why_len, "%s backend: cannot allocate %zu bytes of shared memory: %s",
            a->ops->name, bytes, strerror (-r));
        a->stopped = 1;
        destroy (a);
        return r;
      }
      memset (mirrors[i]->host, 0, bytes); /* no slot holds a flag yet */
    }
  }

  if (cfg->inbox_arena_size && a->ops->alloc_device && a->ops->upload
      && cfg->mode == RK_MODE_PERSISTENT) {
    r = alloc_inbox (a, cfg->inbox_arena_size, why, why_len);
    if (r < 0) {
      a->stopped = 1;
      destroy (a);
      return r;
    }
  }

  a->ctl = a->ctl_mem.host;
  a->h2k = a->h2k_mem.host;
  a->k2h = a->k2h_mem.host;
  memset (a->ctl, 0, sizeof *a->ctl);
  a->ctl->magic = RK_CONTROL_MAGIC;
  a->ctl->version = RK_ABI_VERSION;
  a->ctl->node = cfg->node;
  a->ctl->kernel_id = cfg->handler->id;
  a->ctl->created_ns = rk_hlc_wall_ms () * 1000000u;
  rk_ring_init (a->h2k, a->entries, 0);
  rk_ring_init (a->k2h, a->entries, 0);

  rk_launch l = {
    .handler = cfg->handler,
    .mode = cfg->mode,
    .kernel_source = cfg->kernel_source,
    .kernel_path = cfg->kernel_path,
    .ctl = a->ctl_mem,
    .h2k = a->h2k_mem,
    .k2h = a->k2h_mem,
    .in_arena = a->in_mem,
    .out_arena = a->out_mem,
    .inbox = a->inbox_mem,
    .inbox_arena = a->inbox_arena_mem,
    .inbox_ll = a->ll_mem,
    .h2k_ll = a->h2k_ll_mem,
    .k2h_ll = a->k2h_ll_mem,
    .host_wake = &a->host_wake,
  };
  rk_handler_default_params (cfg->handler, l.params);
  if (cfg->params)
    memcpy (l.params, cfg->params, cfg->handler->n_params * sizeof (double));
  l.state_size = rk_handler_state_size (cfg->handler, l.params);
  if (cfg->handler->state_size_for && !l.state_size) {
    snprintf (why, why_len, "kernel %s: parameters out of range (its state would not fit)",
        cfg->handler->name);
    a->stopped = 1;
    destroy (a);
    return -EINVAL;
  }
  /* release: the initialised control block and rings are visible to the actor (the launch itself is
   * also a synchronising operation on every backend) */
  rk_fence_full ();
  r = a->ops->launch (a->dev, &l, &a->impl, why, why_len);
  if (r < 0) {
    a->stopped = 1;
    destroy (a);
    return r;
  }
  r = wait_running (a, why, why_len);
  if (r < 0) {
    destroy (a); /* stops what was launched (or leaks it, if it never ends) */
    return r;
  }
  *out = a;
  return 0;
}

/* ---- waiting ---- */

typedef bool (*ready_fn) (rk_actor *a, void *arg);

/* Sleep until ready () holds. `flag` is this side's "waiting" word, which whoever makes us ready reads
 * after a full fence: either it sees the flag and wakes us, or we see its update in the re-check.
 * Several host threads may wait on one flag (the chain function for ring room, upstream for arena
 * room in the pool), so it counts its sleepers rather than being set and cleared. */
static void
waiting (uint32_t *flag, int delta)
{
  atomic_fetch_add_explicit (RK_ATOMIC32 (flag), (uint32_t) delta, memory_order_relaxed);
}

/* A word whose change ends a wait as well (rk_actor_receive_unless ()): none when word is NULL. */
typedef struct unless {
  const uint32_t *word;
  uint32_t seen;
} unless;

static bool
changed (const unless *u)
{
  return u->word && rk_load_acquire32 (u->word) != u->seen;
}

/* Spin for ready () for up to SPIN_NS. An answer from a GPU takes microseconds, and a sleep and
 * wake-up costs more than that. Returns 1 (ready), -EAGAIN (the word changed) or 0. */
static int
spin (rk_actor *a, ready_fn ready, void *arg, const unless *u)
{
  rk_spin s = { 0 };
  do {
    if (ready (a, arg))
      return 1;
    if (changed (u))
      return -EAGAIN;
  } while (rk_spin_on (&s, SPIN_NS));
  return 0;
}

static int
host_wait_unless (rk_actor *a, ready_fn ready, void *arg, uint32_t *flag, bool interruptible,
    int64_t timeout_ns, const unless *u)
{
  uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : rk_now_ns () + (uint64_t) timeout_ns;
  int r = spin (a, ready, arg, u);

  if (r != 0)
    return r > 0 ? 0 : r;
  for (;;) {
    uint32_t seq = rk_load_acquire32 (&a->host_wake);
    if (interruptible && rk_load_acquire32 (&a->interrupted))
      return -EINTR;
    waiting (flag, 1);
    /* full fence: our flag store is ordered before the re-check below; pairs with the fence between
     * the waker's update and its read of the flag */
    rk_fence_full ();
    if (ready (a, arg)) {
      waiting (flag, -1);
      return 0;
    }
    if (changed (u)) { /* its writer saw our flag after this, or we see its store here */
      waiting (flag, -1);
      return -EAGAIN;
    }
    char why[8];
    if (!a->impl || a->ops->check (a->impl, why, sizeof why) < 0) {
      waiting (flag, -1);
      return -EIO;
    }
    uint64_t now = rk_now_ns ();
    if (now >= deadline) {
      waiting (flag, -1);
      return -ETIMEDOUT;
    }
    uint64_t slice = a->ops->wakes_host ? FAULT_CHECK_NS : POLL_NS;
    if (deadline - now < slice)
      slice = deadline - now;
    int woken = rk_futex_wait (&a->host_wake, seq, (int64_t) slice) == 0;
    waiting (flag, -1);
    /* Woken by an event (not a poll slice): what we wait for is likely near (a record was just
     * submitted to an actor that cannot wake us itself): spin for it again before sleeping. */
    if (woken && (r = spin (a, ready, arg, u)) != 0)
      return r > 0 ? 0 : r;
  }
}

static const unless no_word = { NULL, 0 };

static int
host_wait (rk_actor *a, ready_fn ready, void *arg, uint32_t *flag, bool interruptible,
    int64_t timeout_ns)
{
  return host_wait_unless (a, ready, arg, flag, interruptible, timeout_ns, &no_word);
}

/* Wake host threads sleeping on host_wake if `flag` says one is. Call after the update they wait for,
 * and a full fence: the update is ordered before reading the flag; pairs with host_wait (). */
static void
wake_host_if_fenced (rk_actor *a, uint32_t *flag)
{
  if (rk_load_relaxed32 (flag))
    rk_futex_bump (&a->host_wake);
}

/* The same, fence included. */
static void
wake_host_if (rk_actor *a, uint32_t *flag)
{
  rk_fence_full ();
  wake_host_if_fenced (a, flag);
}

/* Ring the actor if `flag` (one of its waiting flags) says it waits. Call after the update it waits
 * for, and a full fence: pairs with the actor's fence between setting the flag and re-checking. */
static void
ring_actor_if_fenced (rk_actor *a, const uint32_t *flag)
{
  if (rk_load_relaxed32 (flag))
    a->ops->doorbell (a->impl);
}

void
rk_actor_interrupt (rk_actor *a, bool on)
{
  rk_store_release32 (&a->interrupted, on ? 1 : 0);
  if (on)
    rk_futex_bump (&a->host_wake);
}

/* ---- producer side ---- */

typedef struct submit_req {
  bool use_in, use_out;
  bool result;           /* one PROCESS record: its output region is a result (a->out_max) */
  uint32_t count;        /* records that share the regions below (a batch), at least 1 */
  uint32_t len, out_cap; /* bytes of the regions: the sum over the records */
  uint64_t in_off, in_token, out_off, out_token;
} submit_req;

static bool
try_reserve (rk_actor *a, void *arg)
{
  submit_req *s = arg;
  bool ok = false;

  /* at most `entries` records in flight: neither ring can overflow, inflight[] never collides */
  if (a->submitted - rk_load_acquire64 (&a->received) + s->count > a->entries)
    return false;
  /* a slot is reused only after the actor released it (its release pairs with this acquire) */
  if (rk_ring_free (a->h2k) < s->count)
    return false;
  if (!(s->use_in && !s->in_token) && !(s->use_out && !s->out_token))
    return true; /* nothing to take from the arenas (a K2K or inline record): no lock either */
  pthread_mutex_lock (&a->lock);
  if (s->result && s->use_out && s->out_cap > a->out_max)
    a->out_max = s->out_cap;
  if (s->use_in && !s->in_token && rk_arena_alloc (&a->in_arena, s->len, &s->in_off, &s->in_token) < 0)
    goto out;
  if (s->use_out && !s->out_token
      && rk_arena_alloc (&a->out_arena, s->out_cap, &s->out_off, &s->out_token) < 0)
    goto out;
  ok = true;
out:
  pthread_mutex_unlock (&a->lock);
  return ok;
}

static void
unreserve (rk_actor *a, submit_req *s)
{
  pthread_mutex_lock (&a->lock);
  if (s->in_token)
    rk_arena_release (&a->in_arena, s->in_token);
  if (s->out_token)
    rk_arena_release (&a->out_arena, s->out_token);
  pthread_mutex_unlock (&a->lock);
}

#define LINK_FLAGS (RK_REC_F_FROM_INBOX | RK_REC_F_TO_ROUTE)

static bool
inline_fits (const rk_record *rec, uint32_t len, uint32_t out_cap)
{
  return rec->type == RK_CMD_PROCESS && !(rec->flags & LINK_FLAGS) && len <= RK_INLINE_MAX
      && out_cap <= RK_INLINE_MAX;
}

/* Room for `count` records of len bytes in and out_cap bytes out each (their regions shared). */
static void
plan_submit (const rk_record *rec, uint32_t count, uint32_t len, uint32_t out_cap, submit_req *s)
{
  memset (s, 0, sizeof *s);
  bool inl = inline_fits (rec, len, out_cap);
  s->count = count;
  s->use_in = !inl && len > 0 && !(rec->flags & RK_REC_F_FROM_INBOX);
  s->use_out = !inl && out_cap > 0 && !(rec->flags & RK_REC_F_TO_ROUTE);
  s->result = rec->type == RK_CMD_PROCESS && count == 1;
  s->len = len * count;
  s->out_cap = out_cap * count;
}

/* Publish n records written at the ring's head, and wake whoever must see them. */
static void
publish (rk_actor *a, uint32_t n)
{
  rk_ring_publish (a->h2k, n); /* store-release head: pairs with the actor's load-acquire */
  rk_store_release64 (&a->submitted, a->submitted + n);

  uint32_t depth = (uint32_t) (a->h2k->head - rk_load_acquire64 (&a->h2k->tail));
  if (depth > a->high_water)
    rk_store_relaxed32 (&a->high_water, depth);

  /* full fence: head is ordered before reading the actor's waiting flag; pairs with the actor's
   * fence between setting cons_waiting and re-checking head (and, for the flag below, with
   * host_wait ()'s) */
  rk_fence_full ();
  ring_actor_if_fenced (a, &a->h2k->cons_waiting);
  /* An actor that cannot wake the host (a GPU) will answer soon: wake a host thread sleeping for
   * answers now, so that it spins for this one instead of finding it a poll slice late. */
  if (!a->ops->wakes_host)
    wake_host_if_fenced (a, &a->k2h->cons_waiting);
}

bool
rk_actor_can_submit (rk_actor *a, uint32_t len, uint32_t out_cap)
{
  rk_record rec = { .type = RK_CMD_PROCESS };
  submit_req s;
  plan_submit (&rec, 1, len, out_cap, &s);
  bool ok = try_reserve (a, &s);
  if (ok)
    unreserve (a, &s);
  return ok;
}

/* Wait for room, then place the payload (copied from `payload`, or already in the arena when s->in_token
 * is set) and publish the record. */
static int
submit (rk_actor *a, rk_record *rec, const void *payload, submit_req *s, int64_t timeout_ns)
{
  const uint32_t len = s->len, out_cap = s->out_cap;
  const bool preplaced = s->in_token != 0;
  int r;

  if ((s->use_in && len > a->in_arena.size) || (s->use_out && out_cap > a->out_arena.size))
    return -EMSGSIZE;
  if (!a->impl || a->stopped)
    return -EIO;

  r = host_wait (a, try_reserve, s, &a->h2k->prod_waiting, true, timeout_ns);
  if (r < 0) {
    if (preplaced) /* the caller keeps its input room */
      s->in_token = 0;
    unreserve (a, s);
    return r;
  }

  const uint16_t link = rec->type == RK_CMD_PROCESS ? rec->flags & LINK_FLAGS : 0;
  const uint64_t want = rec->u.desc.in_off, forward = rec->u.desc.out_off;
  rec->seq = a->submitted;
  rec->len = link & RK_REC_F_FROM_INBOX ? rec->len : len;
  rec->flags = link;
  rec->status = 0;
  if (!s->use_in && !s->use_out && rec->type == RK_CMD_PROCESS && !link) {
    rec->flags |= RK_REC_F_INLINE;
    memset (rec->u.bytes, 0, sizeof rec->u.bytes);
    if (len)
      memcpy (rec->u.bytes, payload, len);
  } else {
    if (s->use_in && !preplaced)
      memcpy ((uint8_t *) a->in_mem.host + s->in_off, payload, len);
    rec->u.desc.in_off = s->in_off;
    rec->u.desc.out_off = s->out_off;
    rec->u.desc.out_cap = s->use_out || (link & RK_REC_F_TO_ROUTE) ? out_cap : 0;
    if (link & RK_REC_F_FROM_INBOX)
      rec->u.desc.in_off = want;
    if (link & RK_REC_F_TO_ROUTE)
      rec->u.desc.out_off = forward;
    /* a large payload may travel by the backend's own means (a copy engine), started now */
    if (s->use_in && a->ops->stage && len >= a->ops->stage_min
        && a->ops->stage (a->impl, rec->seq, s->in_off, len) == 0)
      rec->flags |= RK_REC_F_STAGED;
  }

  rk_inflight *f = &a->inflight[rec->seq & (a->entries - 1)];
  f->seq = rec->seq;
  f->in_token = s->in_token;
  f->out_token = s->out_token;
  f->out_off = s->out_off;
  f->out_cap = s->use_out ? out_cap : 0;
  f->batch = false;
  f->routed = link & RK_REC_F_TO_ROUTE;

  /* the slot is free: in-flight records never exceed the ring's entries. The mirror first: an actor
   * that reads it there has the record (and a small payload) a PCIe round trip sooner than by the head
   * and the slot; a record whose payload stays in the arena alone is not mirrored. */
  if (a->h2k_ll_mem.size && (!s->use_in || rk_ll_carries (rec->type, rec->flags, rec->len))) {
    const bool carried = s->use_in;
    rk_ll_write (rk_ll_slot ((uint64_t) (uintptr_t) a->h2k_ll_mem.host, a->h2k->head, a->h2k->mask), rec,
        carried ? (const uint8_t *) a->in_mem.host + s->in_off : NULL, carried ? len : 0,
        rk_ll_flag (a->h2k->head));
  }
  *rk_ring_prod_slot (a->h2k, 0) = *rec;
  publish (a, 1);
  return 0;
}

int
rk_actor_submit (rk_actor *a, rk_record *rec, const void *payload, uint32_t len, uint32_t out_cap,
    int64_t timeout_ns)
{
  submit_req s;
  if (rec->type != RK_CMD_PROCESS)
    rec->flags = 0;
  if (rec->flags & RK_REC_F_FROM_INBOX) {
    rec->len = len; /* what the inbox record is expected to hold: the answer's room is sized on it */
    len = 0;
  }
  plan_submit (rec, 1, len, out_cap, &s);
  return submit (a, rec, payload, &s, timeout_ns);
}

int
rk_actor_submit_batch (rk_actor *a, rk_record *rec, uint32_t n, const void *payload, uint32_t msg_len,
    uint32_t out_cap, int64_t timeout_ns)
{
  submit_req s;
  int r;

  if (n == 0 || rec->type != RK_CMD_PROCESS)
    return -EINVAL;
  if (n > a->entries || (uint64_t) msg_len * n > UINT32_MAX || (uint64_t) out_cap * n > UINT32_MAX)
    return -EMSGSIZE;
  plan_submit (rec, n, msg_len, out_cap, &s);
  const bool inl = !s.use_in && !s.use_out;
  if ((s.use_in && s.len > a->in_arena.size) || (s.use_out && s.out_cap > a->out_arena.size))
    return -EMSGSIZE;
  if (!a->impl || a->stopped)
    return -EIO;

  r = host_wait (a, try_reserve, &s, &a->h2k->prod_waiting, true, timeout_ns);
  if (r < 0) {
    unreserve (a, &s);
    return r;
  }

  const uint64_t seq0 = a->submitted;
  if (s.use_in)
    memcpy ((uint8_t *) a->in_mem.host + s.in_off, payload, s.len);
  for (uint32_t i = 0; i < n; i++) {
    rk_record *slot = rk_ring_prod_slot (a->h2k, i);
    rk_record x = *rec;
    x.seq = seq0 + i;
    x.len = msg_len;
    x.flags = 0;
    x.status = 0;
    if (inl) {
      x.flags |= RK_REC_F_INLINE;
      memset (x.u.bytes, 0, sizeof x.u.bytes);
      if (msg_len)
        memcpy (x.u.bytes, (const uint8_t *) payload + (size_t) i * msg_len, msg_len);
    } else {
      x.u.desc.in_off = s.in_off + (uint64_t) i * msg_len;
      x.u.desc.out_off = s.out_off + (uint64_t) i * out_cap;
      x.u.desc.out_cap = s.use_out ? out_cap : 0;
    }
    *slot = x;
    /* the regions are the batch's: the last answer hands them back, after every other one was read */
    rk_inflight *f = &a->inflight[x.seq & (a->entries - 1)];
    f->seq = x.seq;
    f->in_token = i == n - 1 ? s.in_token : 0;
    f->out_token = i == n - 1 ? s.out_token : 0;
    f->out_off = s.out_off + (uint64_t) i * out_cap;
    f->out_cap = s.use_out ? out_cap : 0;
    f->batch = true;
    f->routed = false;
  }
  publish (a, n); /* one store-release of head for the whole batch */
  rec->seq = seq0;
  return 0;
}

static bool
input_room (rk_actor *a, void *arg)
{
  rk_input *in = arg;
  pthread_mutex_lock (&a->lock);
  bool ok = rk_arena_alloc (&a->in_arena, in->len, &in->off, &in->token) == 0;
  pthread_mutex_unlock (&a->lock);
  return ok;
}

int
rk_actor_reserve_input (rk_actor *a, uint32_t len, rk_input *in, int64_t timeout_ns)
{
  memset (in, 0, sizeof *in);
  in->len = len ? len : 1;
  if (in->len > a->in_arena.size)
    return -EMSGSIZE;
  if (!a->impl || a->stopped) /* a pool may outlive its actor's run */
    return -EIO;
  int r = host_wait (a, input_room, in, &a->h2k->prod_waiting, true, timeout_ns);
  if (r < 0)
    return r;
  in->len = len;
  in->ptr = (uint8_t *) a->in_mem.host + in->off;
  return 0;
}

int
rk_actor_submit_input (rk_actor *a, rk_record *rec, rk_input *in, uint32_t out_cap,
    int64_t timeout_ns)
{
  submit_req s;
  memset (&s, 0, sizeof s);
  s.count = 1;
  s.use_in = true; /* never inline: the payload is in the arena already */
  s.use_out = out_cap > 0;
  s.result = rec->type == RK_CMD_PROCESS;
  s.len = in->len;
  s.out_cap = out_cap;
  s.in_off = in->off;
  s.in_token = in->token;
  rec->flags &= RK_REC_F_TO_ROUTE; /* the input is this room, never the inbox */
  if (rec->flags)
    s.use_out = false;
  int r = submit (a, rec, NULL, &s, timeout_ns);
  if (r == 0)
    in->token = 0; /* the record owns the room now: it is released with its answer */
  return r;
}

void
rk_actor_release_input (rk_actor *a, rk_input *in)
{
  if (!in->token)
    return;
  pthread_mutex_lock (&a->lock);
  rk_arena_release (&a->in_arena, in->token);
  pthread_mutex_unlock (&a->lock);
  in->token = 0;
  wake_host_if (a, &a->h2k->prod_waiting);
}

/* ---- consumer side ---- */

/* The K2H mirror's slot of ring position pos (core/rk_ll.h). */
static const rk_ll_line *
k2h_ll_slot (rk_actor *a, uint64_t pos)
{
  return rk_ll_slot ((uint64_t) (uintptr_t) a->k2h_ll_mem.host, pos, a->k2h->mask);
}

/* The answer at the K2H tail, from the mirror: a GPU actor writes the answer to a record that came
 * alone there before it fences and moves the head, which saves the host the fence's wait. Its
 * sequence number is its position (answers come in order, one for every record), which also keeps a
 * slot not written for 2^32 positions from passing for a new one. One with a payload in the output
 * region waits for the head, which publishes that payload (rk_ll_answer_whole ()). */
static bool
k2h_ll_take (rk_actor *a, rk_record *rec)
{
  const uint64_t pos = a->k2h->tail;
  return a->k2h_ll_mem.size && rk_ll_read (k2h_ll_slot (a, pos), rk_ll_flag (pos), 0, rec, NULL)
      && rec->seq == pos && rk_ll_answer_whole (rec->flags, rec->len);
}

/* What answer_ready () found in the K2H mirror, for receive () to take without reading it again. */
typedef struct k2h_peek {
  bool found;
  rk_record rec;
} k2h_peek;

/* An answer at the K2H tail, by the head or in the mirror; arg: a k2h_peek, or NULL. */
static bool
answer_ready (rk_actor *a, void *arg)
{
  if (rk_ring_avail (a->k2h) > 0)
    return true;
  k2h_peek *p = arg, none;
  if (!p)
    p = &none;
  p->found = k2h_ll_take (a, &p->rec);
  return p->found;
}

/* An answer whose payload is in the K2H mirror (RK_REC_F_LL_OUT), at ring position pos: the payload
 * into the output region of its record, where the host reads the others'. Its lines were written
 * with the record's, so they are there or on their way. */
static int
k2h_ll_payload (rk_actor *a, rk_record *rec, uint64_t pos)
{
  rec->flags &= (uint16_t) ~RK_REC_F_LL_OUT;
  const rk_inflight *f = &a->inflight[rec->seq & (a->entries - 1)];
  if (f->seq != rec->seq || rec->len > f->out_cap || rec->len > RK_LL_MAX_PAYLOAD)
    return 0; /* not an answer to what was sent: account_locked () refuses it */
  rk_record again;
  uint8_t *out = (uint8_t *) a->out_mem.host + f->out_off;
  const uint64_t deadline = rk_now_ns () + 1000000000ull;
  while (!rk_ll_read (k2h_ll_slot (a, pos), rk_ll_flag (pos), rec->len, &again, out))
    if (rk_now_ns () > deadline)
      return -EPROTO;
  return 0;
}

/* Check answer `ans` (the next one, seq == received + i) against what was submitted, and hand back or
 * attach its regions. Called with a->lock. */
static int
account_locked (rk_actor *a, rk_answer *ans, uint64_t expect_seq)
{
  rk_inflight *f = &a->inflight[ans->rec.seq & (a->entries - 1)];
  if (ans->rec.seq != expect_seq || f->seq != ans->rec.seq) {
    /* the actor answered out of order or invented a record: nothing after this can be trusted */
    return -EPROTO;
  }
  /* an answer longer than the room it was given would make its reader overrun: refuse it (a routed
   * answer's length is what went down the route, not here) */
  if (!(ans->rec.flags & RK_REC_F_ERROR) && !f->routed
      && ans->rec.len > ((ans->rec.flags & RK_REC_F_INLINE) ? RK_INLINE_MAX : f->out_cap))
    return -EPROTO;
  if (f->in_token)
    rk_arena_release (&a->in_arena, f->in_token);
  ans->out_token = f->out_token;
  ans->out = NULL;
  bool has_out = f->out_cap && !(ans->rec.flags & (RK_REC_F_INLINE | RK_REC_F_ERROR))
      && ans->rec.len > 0 && ans->rec.len <= f->out_cap;
  if (f->out_token && !has_out && !f->batch) {
    rk_arena_release (&a->out_arena, f->out_token);
    ans->out_token = 0;
  }
  if (has_out)
    ans->out = (const uint8_t *) a->out_mem.host + f->out_off;
  f->in_token = f->out_token = 0;
  f->batch = f->routed = false;
  return 0;
}

/* Take up to max answers (at least one, waiting for it): one release of the ring, one lock, one wake. */
static int
receive (rk_actor *a, rk_answer *ans, uint32_t max, bool interruptible, int64_t timeout_ns,
    const unless *u)
{
  k2h_peek peek = { 0 };
  int r = host_wait_unless (a, answer_ready, &peek, &a->k2h->cons_waiting, interruptible, timeout_ns, u);
  if (r < 0)
    return r;

  uint32_t n = rk_ring_avail (a->k2h); /* load-acquire head: pairs with the actor's release */
  const bool mirrored = n == 0;         /* what answer_ready () found is in the mirror */
  if (mirrored) {
    if (!peek.found) /* the head never moves back: the last look found it there */
      return -EPROTO;
    ans[0].rec = peek.rec;
    n = 1;
    rk_store_relaxed64 (&a->ctl->k2h_fast, rk_load_relaxed64 (&a->ctl->k2h_fast) + 1);
  } else if (n > max) {
    n = max;
  }
  for (uint32_t i = 0; i < n && r == 0; i++) {
    if (!mirrored)
      ans[i].rec = *rk_ring_cons_slot (a->k2h, i);
    /* before the tail lets the actor use the mirror's slot again */
    if (ans[i].rec.flags & RK_REC_F_LL_OUT)
      r = k2h_ll_payload (a, &ans[i].rec, a->k2h->tail + i);
  }
  if (r < 0)
    return r;

  pthread_mutex_lock (&a->lock);
  for (uint32_t i = 0; i < n && r == 0; i++)
    r = account_locked (a, &ans[i], a->received + i);
  pthread_mutex_unlock (&a->lock);
  if (r < 0)
    return r;

  /* The slots go back (their answers are copied out), then the count that lets a producer submit
   * records whose answers need them: one full fence orders both before the two waiting flags read
   * after it, the actor's (as in submit) and a producer's (for in-flight room or arena) */
  rk_ring_release (a->k2h, n); /* store-release tail: pairs with the actor's load-acquire */
  rk_store_release64 (&a->received, a->received + n);
  rk_fence_full ();
  ring_actor_if_fenced (a, &a->k2h->prod_waiting);
  wake_host_if_fenced (a, &a->h2k->prod_waiting);
  return (int) n;
}

int
rk_actor_receive (rk_actor *a, rk_answer *ans, int64_t timeout_ns)
{
  if (!a->impl)
    return -EIO;
  int r = receive (a, ans, 1, true, timeout_ns, &no_word);
  return r < 0 ? r : 0;
}

int
rk_actor_receive_unless (rk_actor *a, rk_answer *ans, int64_t timeout_ns, const uint32_t *word,
    uint32_t seen)
{
  if (!a->impl)
    return -EIO;
  const unless u = { word, seen };
  int r = receive (a, ans, 1, true, timeout_ns, &u);
  return r < 0 ? r : 0;
}

void
rk_actor_wake_receiver (rk_actor *a)
{
  wake_host_if (a, &a->k2h->cons_waiting);
}

int
rk_actor_receive_batch (rk_actor *a, rk_answer *ans, uint32_t max, int64_t timeout_ns)
{
  if (!a->impl)
    return -EIO;
  if (max == 0)
    return -EINVAL;
  return receive (a, ans, max, true, timeout_ns, &no_word);
}

int
rk_actor_try_receive (rk_actor *a, rk_answer *ans)
{
  if (!a->impl)
    return -EIO;
  if (!answer_ready (a, NULL)) /* load-acquire head, or the mirror */
    return -EAGAIN;
  int r = receive (a, ans, 1, false, 0, &no_word);
  return r < 0 ? r : 0;
}

bool
rk_actor_output_keepable (rk_actor *a, uint64_t out_token)
{
  pthread_mutex_lock (&a->lock);
  /* room for a third of the arena at least, so that outputs up to that size are never stopped, even
   * before one of that size has come; and for the largest so far */
  const uint64_t third = a->out_arena.size / 3;
  const bool ok = rk_arena_fits_beside (&a->out_arena, out_token, a->out_max > third ? a->out_max : third);
  pthread_mutex_unlock (&a->lock);
  return ok;
}

void
rk_actor_release_output (rk_actor *a, uint64_t out_token)
{
  if (!out_token)
    return;
  pthread_mutex_lock (&a->lock);
  rk_arena_release (&a->out_arena, out_token);
  pthread_mutex_unlock (&a->lock);
  wake_host_if (a, &a->h2k->prod_waiting);
}

/* ---- K2K ---- */

rk_link_path
rk_link_choose (const rk_link_facts *f, char *why, size_t why_len)
{
  const bool staged = f->paths & (1u << RK_LINK_STAGED);
  if (!f->same_backend) {
    snprintf (why, why_len, "the two actors run on different backends");
    return RK_LINK_HOST;
  }
  if (!f->consumer_inbox) {
    snprintf (why, why_len, "the downstream actor has no inbox");
    return RK_LINK_HOST;
  }
  if (f->force_staged) {
    if (staged) {
      snprintf (why, why_len, "link=staged");
      return RK_LINK_STAGED;
    }
    snprintf (why, why_len, "link=staged, and this backend has no staged link");
    return RK_LINK_HOST;
  }
  if (f->same_device) {
    snprintf (why, why_len, "one device");
    return f->paths & (1u << RK_LINK_DEVICE) ? RK_LINK_DEVICE : RK_LINK_HOST;
  }
  if (!(f->paths & ((1u << RK_LINK_PEER) | (1u << RK_LINK_STAGED)))) {
    snprintf (why, why_len, "this backend links actors of one device only");
    return RK_LINK_HOST;
  }
  if ((f->paths & (1u << RK_LINK_PEER)) && f->peer == 0) {
    snprintf (why, why_len, "the devices have peer access");
    return RK_LINK_PEER;
  }
  if (staged) {
    snprintf (why, why_len, "the devices have no peer access");
    return RK_LINK_STAGED;
  }
  snprintf (why, why_len, "the devices have no peer access, and this backend has no staged link");
  return RK_LINK_HOST;
}

const char *
rk_link_path_name (rk_link_path path)
{
  static const char *const names[RK_LINK_PATH_COUNT_] = { "host", "device", "peer", "staged" };
  return (unsigned) path < RK_LINK_PATH_COUNT_ ? names[path] : "invalid";
}

rk_link_path
rk_actor_link_path (rk_actor *from, rk_actor *to, bool force_staged, char *why, size_t why_len)
{
  char peer_why[160] = "";
  rk_link_facts f = {
    .same_backend = from->ops == to->ops,
    .consumer_inbox = to->inbox_mem.size != 0,
    .same_device = from->device_id == to->device_id,
    .force_staged = force_staged,
    .paths = to->ops->link_paths,
    .peer = -ENOTSUP,
  };
  /* ask for peer access only where it would be taken */
  if (f.same_backend && f.consumer_inbox && !f.force_staged && !f.same_device
      && (f.paths & (1u << RK_LINK_PEER)) && to->ops->peer)
    f.peer = to->ops->peer (from->dev, to->dev, peer_why, sizeof peer_why);
  rk_link_path p = rk_link_choose (&f, why, why_len);
  if (p != RK_LINK_PEER && peer_why[0])
    snprintf (why, why_len, "%s", peer_why);
  return p;
}

/* The staged inbox, laid out like the one in device memory, the first time a link asks for it. */
static int
alloc_staged_inbox (rk_actor *a)
{
  int r = 0;
  pthread_mutex_lock (&a->lock);
  if (!a->staged_mem.size) {
    r = a->ops->alloc_mapped (a->dev, RK_RING_BYTES (a->entries), &a->staged_mem);
    if (r == 0)
      r = a->ops->alloc_mapped (a->dev, a->inbox_arena_mem.size, &a->staged_arena_mem);
    if (r == 0)
      rk_ring_init (a->staged_mem.host, a->entries, 0);
    if (r < 0) {
      if (a->staged_mem.size)
        a->ops->free (a->dev, &a->staged_mem);
      if (a->staged_arena_mem.size)
        a->ops->free (a->dev, &a->staged_arena_mem);
    }
  }
  pthread_mutex_unlock (&a->lock);
  return r;
}

bool
rk_actor_inbox_route (rk_actor *a, rk_link_path path, uint32_t route_id, rk_route *route)
{
  memset (route, 0, sizeof *route);
  if (!a->inbox_mem.size || path == RK_LINK_HOST || !(a->ops->link_paths & (1u << path)))
    return false;
  const rk_mem *ring = &a->inbox_mem, *arena = &a->inbox_arena_mem;
  if (path == RK_LINK_STAGED) {
    if (alloc_staged_inbox (a) < 0)
      return false;
    ring = &a->staged_mem;
    arena = &a->staged_arena_mem;
  }
  route->inbox_addr = ring->dev;
  route->arena_addr = arena->dev;
  route->arena_size = arena->size;
  route->route_id = route_id;
  route->dst_node = a->ctl->node;
  route->flags = path == RK_LINK_DEVICE ? 0 : RK_ROUTE_F_SYSTEM;
  if (path == RK_LINK_DEVICE)
    route->ll_addr = a->ll_mem.dev; /* 0 where the backend has none */
  /* a host thread serves the actor: its producer rings it when it sleeps on the inbox */
  if (a->ops->wakes_host)
    route->doorbell_addr = (uint64_t) (uintptr_t) &a->ctl->doorbell;
  return true;
}

int
rk_actor_submit_inbox (rk_actor *a, rk_record *rec, const rk_route *inbox, int64_t timeout_ns)
{
  rec->type = RK_CMD_INBOX;
  return rk_actor_submit (a, rec, inbox, sizeof *inbox, 0, timeout_ns);
}

int
rk_actor_submit_link (rk_actor *a, rk_record *rec, const rk_route *route, int64_t timeout_ns)
{
  rk_route none;
  if (!route) {
    memset (&none, 0, sizeof none);
    route = &none;
  }
  rec->type = RK_CMD_LINK;
  return rk_actor_submit (a, rec, route, sizeof *route, 0, timeout_ns);
}

void
rk_actor_cancel_links (rk_actor *a)
{
  rk_store_release64 (&a->ctl->cancel, rk_load_acquire64 (&a->submitted));
  /* full fence: cancel before the actor's waiting flag, as in publish () */
  rk_fence_full ();
  if (a->impl)
    a->ops->doorbell (a->impl);
}

/* ---- stop ---- */

static bool
h2k_has_room (rk_actor *a, void *arg)
{
  (void) arg;
  return rk_ring_free (a->h2k) > 0;
}

static int64_t
remaining (uint64_t deadline)
{
  uint64_t now = rk_now_ns ();
  return now < deadline ? (int64_t) (deadline - now) : 0;
}

int
rk_actor_stop (rk_actor *a, int64_t timeout_ns)
{
  uint64_t deadline = rk_now_ns () + (uint64_t) timeout_ns;
  rk_answer ans;
  int r = 0;

  if (a->stopped)
    return a->stop_result;
  a->stopped = 1;
  if (!a->impl)
    return 0;

  /* Answers nobody will read are discarded: first to make room for TERMINATE, then until its own. */
  while (r == 0 && a->submitted - a->received >= a->entries) {
    r = receive (a, &ans, 1, false, remaining (deadline), &no_word);
    r = r < 0 ? r : 0;
    if (r == 0)
      rk_actor_release_output (a, ans.out_token);
  }
  if (r == 0)
    r = host_wait (a, h2k_has_room, NULL, &a->h2k->prod_waiting, false, remaining (deadline));
  if (r == 0) {
    rk_record rec = { .type = RK_CMD_TERMINATE };
    rec.seq = a->submitted;
    rk_inflight *f = &a->inflight[rec.seq & (a->entries - 1)];
    memset (f, 0, sizeof *f);
    f->seq = rec.seq;
    *rk_ring_prod_slot (a->h2k, 0) = rec;
    rk_ring_publish (a->h2k, 1); /* as in rk_actor_submit () */
    rk_store_release64 (&a->submitted, a->submitted + 1);
    rk_fence_full ();
    ring_actor_if_fenced (a, &a->h2k->cons_waiting);
  }
  while (r == 0) {
    r = receive (a, &ans, 1, false, remaining (deadline), &no_word);
    if (r < 0)
      break;
    r = 0;
    rk_actor_release_output (a, ans.out_token);
    if (ans.rec.type == RK_CMD_TERMINATE)
      break;
  }

  int j = a->ops->join (a->impl, r == 0 ? remaining (deadline) : 0);
  if (j == 0) {
    a->impl = NULL; /* joined: the backend freed it; later calls see "not running" (-EIO) */
    a->ended = 1;
  }
  a->stop_result = r < 0 ? r : j;
  return a->stop_result;
}

/* ---- inspection ---- */

const rk_control *
rk_actor_control (rk_actor *a)
{
  return a->ctl;
}

const rk_handler *
rk_actor_handler (rk_actor *a)
{
  return a->handler;
}

const rk_backend_ops *
rk_actor_backend (rk_actor *a)
{
  return a->ops;
}

uint64_t
rk_actor_in_flight (rk_actor *a)
{
  return rk_load_acquire64 (&a->submitted) - rk_load_acquire64 (&a->received);
}

uint32_t
rk_actor_ring_high_water (rk_actor *a)
{
  return rk_load_relaxed32 (&a->high_water);
}

uint32_t
rk_actor_ring_entries (rk_actor *a)
{
  return a->entries;
}

int
rk_actor_check (rk_actor *a, char *why, size_t why_len)
{
  if (!a->impl) {
    snprintf (why, why_len, "actor not running");
    return -EIO;
  }
  return a->ops->check (a->impl, why, why_len);
}
