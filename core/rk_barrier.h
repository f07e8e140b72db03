/* gst-ringkernel: memory-ordering helpers for the host side of shared rings.
 *
 * Built on C11 <stdatomic.h>. The shared structures in rk_abi.h hold plain integers (the same layout is
 * read by CUDA and Vulkan code), so these helpers view a plain object as atomic for one access. Every
 * use in the code names the access it pairs with.
 */
#ifndef RK_BARRIER_H
#define RK_BARRIER_H

#include <stdatomic.h>
#include <stdint.h>

#define RK_ATOMIC64(p) ((_Atomic uint64_t *) (void *) (p))
#define RK_ATOMIC32(p) ((_Atomic uint32_t *) (void *) (p))

static inline uint64_t
rk_load_acquire64 (const uint64_t *p)
{
  return atomic_load_explicit (RK_ATOMIC64 (p), memory_order_acquire);
}

static inline void
rk_store_release64 (uint64_t *p, uint64_t v)
{
  atomic_store_explicit (RK_ATOMIC64 (p), v, memory_order_release);
}

static inline uint64_t
rk_load_relaxed64 (const uint64_t *p)
{
  return atomic_load_explicit (RK_ATOMIC64 (p), memory_order_relaxed);
}

static inline void
rk_store_relaxed64 (uint64_t *p, uint64_t v)
{
  atomic_store_explicit (RK_ATOMIC64 (p), v, memory_order_relaxed);
}

static inline uint32_t
rk_load_acquire32 (const uint32_t *p)
{
  return atomic_load_explicit (RK_ATOMIC32 (p), memory_order_acquire);
}

static inline void
rk_store_release32 (uint32_t *p, uint32_t v)
{
  atomic_store_explicit (RK_ATOMIC32 (p), v, memory_order_release);
}

static inline uint32_t
rk_load_relaxed32 (const uint32_t *p)
{
  return atomic_load_explicit (RK_ATOMIC32 (p), memory_order_relaxed);
}

static inline void
rk_store_relaxed32 (uint32_t *p, uint32_t v)
{
  atomic_store_explicit (RK_ATOMIC32 (p), v, memory_order_relaxed);
}

/* Full fence: orders earlier stores before later loads (the sleep/wake handshake needs this). */
static inline void
rk_fence_full (void)
{
  atomic_thread_fence (memory_order_seq_cst);
}

/* A spinning thread's pause: lets the sibling hyperthread run and saves power. */
static inline void
rk_cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ __volatile__ ("yield");
#endif
}

#endif /* RK_BARRIER_H */
