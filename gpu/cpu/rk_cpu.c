/* gst-ringkernel: the CPU backend.
 *
 * One host thread per actor (rk_host_actor.c) runs the C reference handlers over the same rings and
 * arenas that a GPU actor would use. "Mapped" memory is ordinary host memory.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "rk_backend.h"
#include "rk_host_actor.h"

struct rk_device {
  int device_id;
};

static int
cpu_probe (int device_id, char *why, size_t why_len)
{
  if (device_id != 0) {
    snprintf (why, why_len, "the CPU backend has one device (0), not %d", device_id);
    return -ENODEV;
  }
  return 0;
}

static int
cpu_open (int device_id, rk_device **dev, char *why, size_t why_len)
{
  int r = cpu_probe (device_id, why, why_len);
  if (r < 0)
    return r;
  *dev = calloc (1, sizeof **dev);
  if (!*dev)
    return -ENOMEM;
  (*dev)->device_id = device_id;
  return 0;
}

static void
cpu_close (rk_device *dev)
{
  free (dev);
}

/* Anonymous pages: zero from the start, and touched only where used, so that starting an actor with
 * large arenas costs no time writing zeroes (a move starts one while the stream waits). */
static int
cpu_alloc_mapped (rk_device *dev, size_t size, rk_mem *mem)
{
  (void) dev;
  size_t rounded = (size + 4095) & ~(size_t) 4095;
  void *p = mmap (NULL, rounded ? rounded : 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
      -1, 0);
  if (p == MAP_FAILED)
    return -ENOMEM;
  mem->host = p;
  mem->dev = (uint64_t) (uintptr_t) p;
  mem->size = size;
  mem->priv = NULL;
  return 0;
}

static void
cpu_free (rk_device *dev, rk_mem *mem)
{
  (void) dev;
  if (mem->host)
    munmap (mem->host, mem->size ? (mem->size + 4095) & ~(size_t) 4095 : 4096);
  memset (mem, 0, sizeof *mem);
}

static int
cpu_upload (rk_device *dev, rk_mem *mem, size_t off, const void *src, size_t len)
{
  (void) dev;
  if (off > mem->size || len > mem->size - off)
    return -EINVAL;
  memcpy ((uint8_t *) mem->host + off, src, len);
  return 0;
}

static int
cpu_launch (rk_device *dev, const rk_launch *l, rk_actor_impl **impl, char *why, size_t why_len)
{
  void *state = NULL;
  (void) dev;
  if (!l->handler->process) {
    snprintf (why, why_len, "the cpu backend runs the built-in handlers' C code, not kernel files "
        "(%s needs a GPU backend)", l->kernel_path ? l->kernel_path : l->handler->name);
    return -ENOTSUP;
  }
  if (l->state_size) {
    state = malloc (l->state_size);
    if (!state) {
      snprintf (why, why_len, "cannot allocate %zu bytes of actor state", l->state_size);
      return -ENOMEM;
    }
  }
  return rk_host_actor_start (l, l->handler, state, free, RK_HOST_LINKS | RK_HOST_LINKS_INBOX_MOVES, (rk_host_actor **) impl, why, why_len);
}

static void
cpu_doorbell (rk_actor_impl *impl)
{
  rk_host_actor_doorbell ((rk_host_actor *) impl);
}

static int
cpu_join (rk_actor_impl *impl, int64_t timeout_ns)
{
  return rk_host_actor_join ((rk_host_actor *) impl, timeout_ns);
}

static int
cpu_check (rk_actor_impl *impl, char *why, size_t why_len)
{
  return rk_host_actor_check ((rk_host_actor *) impl, why, why_len);
}

const rk_backend_ops rk_backend_cpu = {
  .name = "cpu",
  .kind = RK_BACKEND_CPU,
  .wakes_host = 1,
  .modes = 1u << RK_MODE_PERSISTENT,
  .link_paths = (1u << RK_LINK_DEVICE) | (1u << RK_LINK_STAGED),
  .probe = cpu_probe,
  .open = cpu_open,
  .close = cpu_close,
  .alloc_mapped = cpu_alloc_mapped,
  .free = cpu_free,
  .alloc_device = cpu_alloc_mapped, /* one memory: the host's */
  .upload = cpu_upload,
  .launch = cpu_launch,
  .doorbell = cpu_doorbell,
  .join = cpu_join,
  .check = cpu_check,
};
