/* gst-ringkernel: the Vulkan backend.
 *
 * Vulkan promises no forward progress to a shader that never returns, so a Vulkan actor is host-driven:
 * a host thread serves the rings (rk_host_actor.c, the same command semantics as every backend) and
 * runs each record's handler as dispatches of compute pipelines built when the device was opened, a
 * run of records found on the ring at once in one submission, then waits for it on a timeline
 * semaphore. Rings, control block and arenas live in host-visible,
 * coherent memory that the shaders read and write in place; a handler's state lives in device-local
 * memory across records. Nothing is created on the hot path: the descriptor sets that an actor needs
 * (its arenas, or a small staging buffer for payloads that travel inside a record) are written when it
 * starts, and each run re-records one command buffer with its offsets as push constants.
 *
 * The handlers are GLSL (gpu/vulkan/shaders/), compiled by glslc to SPIR-V at build time and embedded.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vulkan/vulkan.h>

#include "rk_backend.h"
#include "rk_host_actor.h"
#include "rk_spectrum.h"
#include "rk_wave.h"
#include "rk_vulkan.h"

/* SPIR-V of the handlers (glslc -mfmt=c at build time), each also built to keep float32 denormals */
static const uint32_t spv_echo[] =
#include "echo.spv.inc"
    ;
static const uint32_t spv_echo_dp[] =
#include "echo_dp.spv.inc"
    ;
static const uint32_t spv_scale[] =
#include "scale.spv.inc"
    ;
static const uint32_t spv_scale_dp[] =
#include "scale_dp.spv.inc"
    ;
static const uint32_t spv_stencil[] =
#include "stencil.spv.inc"
    ;
static const uint32_t spv_stencil_dp[] =
#include "stencil_dp.spv.inc"
    ;
static const uint32_t spv_levels[] =
#include "levels.spv.inc"
    ;
static const uint32_t spv_levels_dp[] =
#include "levels_dp.spv.inc"
    ;
static const uint32_t spv_accumulate[] =
#include "accumulate.spv.inc"
    ;
static const uint32_t spv_accumulate_dp[] =
#include "accumulate_dp.spv.inc"
    ;
static const uint32_t spv_wave_step[] =
#include "wave_step.spv.inc"
    ;
static const uint32_t spv_wave_step_dp[] =
#include "wave_step_dp.spv.inc"
    ;
static const uint32_t spv_wave_impulse[] =
#include "wave_impulse.spv.inc"
    ;
static const uint32_t spv_wave_impulse_dp[] =
#include "wave_impulse_dp.spv.inc"
    ;
static const uint32_t spv_wave_render[] =
#include "wave_render.spv.inc"
    ;
static const uint32_t spv_wave_render_dp[] =
#include "wave_render_dp.spv.inc"
    ;
static const uint32_t spv_spectrum_input[] =
#include "spectrum_input.spv.inc"
    ;
static const uint32_t spv_spectrum_input_dp[] =
#include "spectrum_input_dp.spv.inc"
    ;
static const uint32_t spv_spectrum_stage[] =
#include "spectrum_stage.spv.inc"
    ;
static const uint32_t spv_spectrum_stage_dp[] =
#include "spectrum_stage_dp.spv.inc"
    ;
static const uint32_t spv_spectrum_bins[] =
#include "spectrum_bins.spv.inc"
    ;
static const uint32_t spv_spectrum_bins_dp[] =
#include "spectrum_bins_dp.spv.inc"
    ;
static const uint32_t spv_spectrum_sums[] =
#include "spectrum_sums.spv.inc"
    ;
static const uint32_t spv_spectrum_sums_dp[] =
#include "spectrum_sums_dp.spv.inc"
    ;
static const uint32_t spv_spectrum_ring[] =
#include "spectrum_ring.spv.inc"
    ;
static const uint32_t spv_spectrum_ring_dp[] =
#include "spectrum_ring_dp.spv.inc"
    ;

#define MAX_DEVICES 16
#define WAIT_NS (2 * 1000000000ull) /* a submission not done after this long: the device is stuck */
#define WAIT_CPU_NS (60 * 1000000000ull) /* the same on a device that runs on the host's cores */
#define RUN_BYTES (32u << 20) /* a run of records is submitted once it has this much payload */
#define SPEC_MAX_FFT_WORK (1ull << 31) /* complex multiply-adds of one FFT (M times its radices' sum) */
#define SPIN_NS 200000ull           /* how long a wait polls before it sleeps */
#define GROUP 256                   /* local_size_x of every shader */
#define MAX_GROUPS 4096             /* the shaders loop over what a dispatch of this many leaves */

/* Push constants: gpu/vulkan/shaders/rk_common.glsl, struct Push. */
typedef struct vk_push {
  uint32_t in_word, out_word, len, restart;
  float a, b, c;
  uint32_t inv_lo, inv_hi;
} vk_push;

/* The wave's: gpu/vulkan/shaders/rk_wave.glsl, struct WavePush. */
typedef struct vk_wave_push {
  uint32_t u_word, p_word, out_word, w, h, d;
  float c2, keep0, k;
  uint32_t band;
  float gain;
  uint32_t format, stride, z;
  int32_t ix, iy, iz;
  float amp, radius;
} vk_wave_push;

/* The spectrum's: gpu/vulkan/shaders/rk_spectrum.glsl, struct SpecPush. */
typedef struct vk_spec_push {
  uint32_t in_word, out_word, a_word, b_word, j0, nb, R, Ns, e0, e1, nf, ends, restart, pos;
} vk_spec_push;

#define PUSH_MAX (sizeof (vk_wave_push) > sizeof (vk_spec_push) ? sizeof (vk_wave_push) : sizeof (vk_spec_push))
RK_STATIC_ASSERT (sizeof (vk_push) <= PUSH_MAX && PUSH_MAX <= 128, "push constants fit the minimum");

/* The spectrum's shaders read the state's header at these offsets (rk_spectrum.glsl, H_*). */
RK_STATIC_ASSERT (offsetof (rk_spectrum_state, window_off) == 4 * 32
    && offsetof (rk_spectrum_state, twiddle_off) == 4 * 34 && offsetof (rk_spectrum_state, ring_off) == 4 * 36
    && offsetof (rk_spectrum_state, mag_off) == 4 * 38 && offsetof (rk_spectrum_state, phase_off) == 4 * 40
    && offsetof (rk_spectrum_state, values_off) == 4 * 44 && offsetof (rk_spectrum_state, index_off) == 4 * 48,
    "the spectrum's header as its shaders read it");

enum {
  PIPE_ECHO, PIPE_SCALE, PIPE_STENCIL, PIPE_LEVELS, PIPE_ACCUMULATE,
  PIPE_WAVE_STEP, PIPE_WAVE_IMPULSE, PIPE_WAVE_RENDER, /* the wave: found by its first */
  PIPE_SPEC_INPUT, PIPE_SPEC_STAGE, PIPE_SPEC_BINS, PIPE_SPEC_SUMS, PIPE_SPEC_RING, /* the spectrum */
  N_PIPES
};

static const struct {
  uint32_t kernel_id; /* the handler's, on its first pipeline */
  const char *shader;
  const uint32_t *code, *code_dp; /* as is, and keeping float32 denormals */
  size_t size, size_dp;
  int float64; /* needs shaderFloat64 */
} pipe_info[N_PIPES] = {
#define SPV(name) #name, spv_##name, spv_##name##_dp, sizeof spv_##name, sizeof spv_##name##_dp
  [PIPE_ECHO] = { RK_KERNEL_ECHO, SPV (echo), 0 },
  [PIPE_SCALE] = { RK_KERNEL_SCALE, SPV (scale), 0 },
  [PIPE_STENCIL] = { RK_KERNEL_STENCIL, SPV (stencil), 0 },
  [PIPE_LEVELS] = { RK_KERNEL_LEVELS, SPV (levels), 0 },
  [PIPE_ACCUMULATE] = { RK_KERNEL_ACCUMULATE, SPV (accumulate), 1 },
  [PIPE_WAVE_STEP] = { RK_KERNEL_WAVE, SPV (wave_step), 1 },
  [PIPE_WAVE_IMPULSE] = { 0, SPV (wave_impulse), 1 },
  [PIPE_WAVE_RENDER] = { 0, SPV (wave_render), 1 },
  [PIPE_SPEC_INPUT] = { RK_KERNEL_SPECTRUM, SPV (spectrum_input), 1 },
  [PIPE_SPEC_STAGE] = { 0, SPV (spectrum_stage), 1 },
  [PIPE_SPEC_BINS] = { 0, SPV (spectrum_bins), 1 },
  [PIPE_SPEC_SUMS] = { 0, SPV (spectrum_sums), 1 },
  [PIPE_SPEC_RING] = { 0, SPV (spectrum_ring), 1 },
#undef SPV
};

struct rk_device {
  int id;
  VkInstance instance;
  VkPhysicalDevice phys;
  VkDevice dev;
  VkQueue queue;
  uint32_t family;
  pthread_mutex_t queue_lock; /* a VkQueue is used by one thread at a time */
  VkPhysicalDeviceMemoryProperties mem;
  VkDescriptorSetLayout set_layout;
  VkPipelineLayout layout;
  VkPipeline pipes[N_PIPES];
  char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
  int float64;
  int on_cpu; /* lavapipe and its kind: the dispatch runs on the host's own cores */
  int denorm_preserve; /* the shaders keep float32 denormals (else: the device's default) */
  int hung; /* a dispatch never finished: leave the device alone */
  uint64_t max_range; /* maxStorageBufferRange: the largest buffer a shader may see whole */
};

/* One VkDevice per device and process, shared by its actors: separate VkDevices would be separate
 * contexts, which the GPU time-slices (each switch costs hundreds of microseconds). */
static pthread_mutex_t devices_lock = PTHREAD_MUTEX_INITIALIZER;
static rk_device *devices[MAX_DEVICES];

/* Memory the backend hands out: a buffer and its memory, mapped when host-visible. */
typedef struct vk_block {
  VkBuffer buf;
  VkDeviceMemory mem;
} vk_block;

/* Every mapped block of the process, by host address: a payload pointer that the host thread serving
 * an actor hands to the handler (in its arenas, in its inbox, in a downstream actor's inbox) names the
 * buffer and offset a shader reads or writes, so that no payload passes through the host. */
#define MAX_BLOCKS 1024
static pthread_mutex_t blocks_lock = PTHREAD_MUTEX_INITIALIZER;
typedef struct vk_mapped {
  const uint8_t *host;
  size_t size;
  VkBuffer buf;
  const rk_device *d;
} vk_mapped;
static vk_mapped blocks[MAX_BLOCKS];
static int n_blocks;

static void
register_block (const rk_device *d, const void *host, size_t size, VkBuffer buf)
{
  pthread_mutex_lock (&blocks_lock);
  if (n_blocks < MAX_BLOCKS)
    blocks[n_blocks++] = (vk_mapped) { host, size, buf, d };
  pthread_mutex_unlock (&blocks_lock);
}

static void
unregister_block (const void *host)
{
  pthread_mutex_lock (&blocks_lock);
  for (int i = 0; i < n_blocks; i++)
    if (blocks[i].host == host) {
      blocks[i] = blocks[--n_blocks];
      break;
    }
  pthread_mutex_unlock (&blocks_lock);
}

/* The buffer of device d that holds [p, p + len), and p's offset in it; FALSE if none does. */
static int
find_block (const rk_device *d, const void *p, uint32_t len, VkBuffer *buf, uint64_t *off)
{
  int found = 0;
  pthread_mutex_lock (&blocks_lock);
  for (int i = 0; i < n_blocks && !found; i++)
    if (blocks[i].d == d && (const uint8_t *) p >= blocks[i].host
        && (uint64_t) ((const uint8_t *) p - blocks[i].host) + len <= blocks[i].size) {
      *buf = blocks[i].buf;
      *off = (uint64_t) ((const uint8_t *) p - blocks[i].host);
      found = 1;
    }
  pthread_mutex_unlock (&blocks_lock);
  return found;
}

static uint64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

/* The process's Vulkan instance, made on first use and kept: drivers do not all survive instances
 * made and destroyed again and again in one process (NVIDIA's refuses new ones after a few dozen). */
static pthread_mutex_t instance_lock = PTHREAD_MUTEX_INITIALIZER;
static VkInstance the_instance;

static VkResult make_instance (VkInstance *inst);

static VkResult
get_instance (VkInstance *inst)
{
  VkResult e = VK_SUCCESS;
  pthread_mutex_lock (&instance_lock);
  if (!the_instance)
    e = make_instance (&the_instance);
  if (e != VK_SUCCESS)
    the_instance = VK_NULL_HANDLE;
  *inst = the_instance;
  pthread_mutex_unlock (&instance_lock);
  return e;
}

static VkResult
make_instance (VkInstance *inst)
{
  const VkApplicationInfo app = {
    .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
    .pApplicationName = "gst-ringkernel",
    .apiVersion = VK_API_VERSION_1_2,
  };
  const VkInstanceCreateInfo ci = {
    .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
    .pApplicationInfo = &app,
  };
  return vkCreateInstance (&ci, NULL, inst);
}

static const char *
type_name (VkPhysicalDeviceType t)
{
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
  }
}

/* Device device_id of the instance, checked for what the backend needs: Vulkan 1.2, a compute queue,
 * timeline semaphores. Fills *phys, *family and props. */
static int
find_device (VkInstance inst, int device_id, VkPhysicalDevice *phys, uint32_t *family,
    VkPhysicalDeviceProperties *props, char *why, size_t why_len)
{
  uint32_t n = 0;
  if (vkEnumeratePhysicalDevices (inst, &n, NULL) != VK_SUCCESS || n == 0) {
    snprintf (why, why_len, "no Vulkan device (no driver sees one; Mesa's lavapipe, package "
        "mesa-vulkan-drivers, gives one on the CPU)");
    return -ENODEV;
  }
  if (device_id < 0 || (uint32_t) device_id >= n) {
    snprintf (why, why_len, "Vulkan device %d does not exist (%u present)", device_id, n);
    return -ENODEV;
  }
  VkPhysicalDevice all[MAX_DEVICES];
  uint32_t m = n < MAX_DEVICES ? n : MAX_DEVICES;
  vkEnumeratePhysicalDevices (inst, &m, all);
  if ((uint32_t) device_id >= m) {
    snprintf (why, why_len, "Vulkan device %d is beyond the %d this backend looks at", device_id,
        MAX_DEVICES);
    return -ENODEV;
  }
  *phys = all[device_id];
  vkGetPhysicalDeviceProperties (*phys, props);
  if (props->apiVersion < VK_API_VERSION_1_2) {
    snprintf (why, why_len, "Vulkan device %d (%s) offers Vulkan %u.%u; the backend needs 1.2", device_id,
        props->deviceName, VK_API_VERSION_MAJOR (props->apiVersion), VK_API_VERSION_MINOR (props->apiVersion));
    return -ENOTSUP;
  }
  VkPhysicalDeviceVulkan12Features f12 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES };
  VkPhysicalDeviceFeatures2 f = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f12 };
  vkGetPhysicalDeviceFeatures2 (*phys, &f);
  if (!f12.timelineSemaphore) {
    snprintf (why, why_len, "Vulkan device %d (%s) has no timeline semaphores", device_id, props->deviceName);
    return -ENOTSUP;
  }
  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties (*phys, &nq, NULL);
  VkQueueFamilyProperties q[32];
  if (nq > 32)
    nq = 32;
  vkGetPhysicalDeviceQueueFamilyProperties (*phys, &nq, q);
  for (uint32_t i = 0; i < nq; i++)
    if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
      *family = i;
      return 0;
    }
  snprintf (why, why_len, "Vulkan device %d (%s) has no compute queue", device_id, props->deviceName);
  return -ENOTSUP;
}

static int
vk_probe_kind (int device_id, int need_gpu, char *why, size_t why_len)
{
  VkInstance inst;
  VkResult e = get_instance (&inst);
  if (e != VK_SUCCESS) {
    snprintf (why, why_len, "no Vulkan driver answers (vkCreateInstance: %d): install one (on a machine "
        "without a GPU, Mesa's lavapipe, package mesa-vulkan-drivers)", e);
    return -ENODEV;
  }
  VkPhysicalDevice phys;
  VkPhysicalDeviceProperties props;
  uint32_t family;
  int r = find_device (inst, device_id < 0 ? 0 : device_id, &phys, &family, &props, why, why_len);
  if (r == 0 && need_gpu && props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) {
    snprintf (why, why_len, "Vulkan device %d (%s) runs on the CPU, which the cpu backend does "
        "better; ask for backend=vulkan to use it", device_id, props.deviceName);
    r = -ENODEV;
  }
  return r;
}

static int
vk_probe (int device_id, char *why, size_t why_len)
{
  return vk_probe_kind (device_id, 0, why, why_len);
}

static int
vk_probe_auto (int device_id, char *why, size_t why_len)
{
  return vk_probe_kind (device_id, 1, why, why_len);
}

static void
destroy_device (rk_device *d)
{
  if (!d)
    return;
  if (d->dev) {
    if (!d->hung)
      vkDeviceWaitIdle (d->dev);
    for (int i = 0; i < N_PIPES; i++)
      if (d->pipes[i])
        vkDestroyPipeline (d->dev, d->pipes[i], NULL);
    if (d->layout)
      vkDestroyPipelineLayout (d->dev, d->layout, NULL);
    if (d->set_layout)
      vkDestroyDescriptorSetLayout (d->dev, d->set_layout, NULL);
    if (!d->hung)
      vkDestroyDevice (d->dev, NULL); /* a hung device is left as it is: destroying it may wait */
  }
  pthread_mutex_destroy (&d->queue_lock);
  free (d);
}

/* A device stays open once opened, like the instance, for the next actor on it (opening one costs tens
 * of milliseconds, and drivers do not all take being opened and closed again and again). */
static void
vk_close (rk_device *d)
{
  (void) d;
}

static int make_device (int device_id, rk_device **out, char *why, size_t why_len);

static int
vk_open (int device_id, rk_device **out, char *why, size_t why_len)
{
  if (device_id < 0 || device_id >= MAX_DEVICES) {
    snprintf (why, why_len, "Vulkan device %d does not exist", device_id);
    return -ENODEV;
  }
  pthread_mutex_lock (&devices_lock);
  int r = 0;
  if (!devices[device_id])
    r = make_device (device_id, &devices[device_id], why, why_len);
  if (r == 0)
    *out = devices[device_id];
  pthread_mutex_unlock (&devices_lock);
  return r;
}

static int
make_device (int device_id, rk_device **out, char *why, size_t why_len)
{
  rk_device *d = calloc (1, sizeof *d);
  VkPhysicalDeviceProperties props;
  VkResult e;
  if (!d)
    return -ENOMEM;
  d->id = device_id;
  pthread_mutex_init (&d->queue_lock, NULL);
  if ((e = get_instance (&d->instance)) != VK_SUCCESS) {
    snprintf (why, why_len, "no Vulkan driver answers (vkCreateInstance: %d)", e);
    d->instance = VK_NULL_HANDLE;
    destroy_device (d);
    return -ENODEV;
  }
  int r = find_device (d->instance, device_id, &d->phys, &d->family, &props, why, why_len);
  if (r < 0) {
    destroy_device (d);
    return r;
  }
  snprintf (d->name, sizeof d->name, "%s", props.deviceName);
  d->on_cpu = props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
  d->max_range = props.limits.maxStorageBufferRange;
  VkPhysicalDeviceFeatures have;
  vkGetPhysicalDeviceFeatures (d->phys, &have);
  VkPhysicalDeviceVulkan12Properties p12 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_PROPERTIES };
  VkPhysicalDeviceProperties2 p2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &p12 };
  vkGetPhysicalDeviceProperties2 (d->phys, &p2);
  d->denorm_preserve = p12.shaderDenormPreserveFloat32;
  d->float64 = have.shaderFloat64;
  vkGetPhysicalDeviceMemoryProperties (d->phys, &d->mem);

  const float prio = 1.0f;
  const VkDeviceQueueCreateInfo qci = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
    .queueFamilyIndex = d->family,
    .queueCount = 1,
    .pQueuePriorities = &prio,
  };
  VkPhysicalDeviceVulkan12Features f12 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
    .timelineSemaphore = VK_TRUE,
  };
  const VkPhysicalDeviceFeatures want = { .shaderFloat64 = have.shaderFloat64 };
  const VkDeviceCreateInfo dci = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
    .pNext = &f12,
    .queueCreateInfoCount = 1,
    .pQueueCreateInfos = &qci,
    .pEnabledFeatures = &want,
  };
  if ((e = vkCreateDevice (d->phys, &dci, NULL, &d->dev)) != VK_SUCCESS) {
    snprintf (why, why_len, "cannot open Vulkan device %d (%s): vkCreateDevice: %d", device_id, d->name, e);
    d->dev = VK_NULL_HANDLE;
    destroy_device (d);
    return -EIO;
  }
  vkGetDeviceQueue (d->dev, d->family, 0, &d->queue);

  /* one layout for every handler: input, output, state; offsets and parameters as push constants */
  VkDescriptorSetLayoutBinding b[3];
  for (int i = 0; i < 3; i++)
    b[i] = (VkDescriptorSetLayoutBinding) {
      .binding = (uint32_t) i,
      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
      .descriptorCount = 1,
      .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
    };
  const VkDescriptorSetLayoutCreateInfo sci = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
    .bindingCount = 3,
    .pBindings = b,
  };
  const VkPushConstantRange pcr = { VK_SHADER_STAGE_COMPUTE_BIT, 0, (uint32_t) PUSH_MAX };
  if (vkCreateDescriptorSetLayout (d->dev, &sci, NULL, &d->set_layout) != VK_SUCCESS
      || vkCreatePipelineLayout (d->dev, &(VkPipelineLayoutCreateInfo) {
             .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
             .setLayoutCount = 1,
             .pSetLayouts = &d->set_layout,
             .pushConstantRangeCount = 1,
             .pPushConstantRanges = &pcr,
         }, NULL, &d->layout) != VK_SUCCESS) {
    snprintf (why, why_len, "Vulkan device %d (%s): cannot create the pipeline layout", device_id, d->name);
    destroy_device (d);
    return -EIO;
  }
  /* every handler's pipeline, now: none is built on the hot path */
  for (int i = 0; i < N_PIPES; i++) {
    if (pipe_info[i].float64 && !d->float64)
      continue; /* refused when an actor asks for it */
    VkShaderModule mod;
    e = vkCreateShaderModule (d->dev, &(VkShaderModuleCreateInfo) {
          .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
          .codeSize = d->denorm_preserve ? pipe_info[i].size_dp : pipe_info[i].size,
          .pCode = d->denorm_preserve ? pipe_info[i].code_dp : pipe_info[i].code,
        }, NULL, &mod);
    if (e == VK_SUCCESS) {
      const VkComputePipelineCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
          .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
          .stage = VK_SHADER_STAGE_COMPUTE_BIT,
          .module = mod,
          .pName = "main",
        },
        .layout = d->layout,
      };
      e = vkCreateComputePipelines (d->dev, VK_NULL_HANDLE, 1, &pci, NULL, &d->pipes[i]);
      vkDestroyShaderModule (d->dev, mod, NULL);
    }
    if (e != VK_SUCCESS) {
      snprintf (why, why_len, "Vulkan device %d (%s): cannot build the pipeline of shader '%s': %d",
          device_id, d->name, pipe_info[i].shader, e);
      d->pipes[i] = VK_NULL_HANDLE;
      destroy_device (d);
      return -EIO;
    }
  }
  *out = d;
  return 0;
}

static int
find_memory (const rk_device *d, uint32_t bits, VkMemoryPropertyFlags want)
{
  for (uint32_t i = 0; i < d->mem.memoryTypeCount; i++)
    if ((bits & (1u << i)) && (d->mem.memoryTypes[i].propertyFlags & want) == want)
      return (int) i;
  return -1;
}

/* A buffer of `size` bytes in memory with the properties `want`, mapped when host-visible. */
static int
alloc_block (rk_device *d, size_t size, VkMemoryPropertyFlags want, rk_mem *m)
{
  vk_block *b = calloc (1, sizeof *b);
  if (!b)
    return -ENOMEM;
  const size_t rounded = (size + 4095) & ~(size_t) 4095;
  const VkBufferCreateInfo bci = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = rounded,
    .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT
        | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
  };
  if (vkCreateBuffer (d->dev, &bci, NULL, &b->buf) != VK_SUCCESS) {
    free (b);
    return -ENOMEM;
  }
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements (d->dev, b->buf, &req);
  int type = find_memory (d, req.memoryTypeBits, want);
  if (type < 0 || vkAllocateMemory (d->dev, &(VkMemoryAllocateInfo) {
          .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
          .allocationSize = req.size,
          .memoryTypeIndex = (uint32_t) type,
        }, NULL, &b->mem) != VK_SUCCESS) {
    vkDestroyBuffer (d->dev, b->buf, NULL);
    free (b);
    return -ENOMEM;
  }
  vkBindBufferMemory (d->dev, b->buf, b->mem, 0);
  memset (m, 0, sizeof *m);
  if (want & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
    if (vkMapMemory (d->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &m->host) != VK_SUCCESS) {
      vkFreeMemory (d->dev, b->mem, NULL);
      vkDestroyBuffer (d->dev, b->buf, NULL);
      free (b);
      return -ENOMEM;
    }
    memset (m->host, 0, rounded);
    register_block (d, m->host, rounded, b->buf);
  }
  m->dev = (uint64_t) (uintptr_t) m->host;
  m->size = size;
  m->priv = b;
  return 0;
}

static int
vk_alloc_mapped (rk_device *d, size_t size, rk_mem *m)
{
  return alloc_block (d, size, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, m);
}

/* K2K inboxes. The payload arena, which only shaders touch: device-local memory that the host can
 * address too (the host thread hands out offsets in it), where the device has such memory. The ring,
 * which only the host threads read and write: host memory, since a host read of device memory crosses
 * the bus each time. Rings are small, arenas are not. */
#define INBOX_RING_MAX (1u << 20)

static int
vk_alloc_device (rk_device *d, size_t size, rk_mem *m)
{
  const VkMemoryPropertyFlags visible = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  if (size > INBOX_RING_MAX && alloc_block (d, size, visible | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, m) == 0)
    return 0;
  return alloc_block (d, size, visible, m);
}

static int
vk_upload (rk_device *d, rk_mem *m, size_t off, const void *src, size_t len)
{
  (void) d;
  if (!m->host || off > m->size || len > m->size - off)
    return -EINVAL;
  memcpy ((uint8_t *) m->host + off, src, len);
  return 0;
}

static void
vk_free (rk_device *d, rk_mem *m)
{
  vk_block *b = m->priv;
  if (m->host)
    unregister_block (m->host);
  if (b && !d->hung) {
    if (m->host)
      vkUnmapMemory (d->dev, b->mem);
    vkFreeMemory (d->dev, b->mem, NULL);
    vkDestroyBuffer (d->dev, b->buf, NULL);
  }
  free (b);
  memset (m, 0, sizeof *m);
}

/* ---- an actor: a host thread whose handler drives the device ---- */

#define N_SETS 16 /* descriptor sets an actor keeps, one per (input, output) buffer pair it has used */
#define STAGE_SIZE 4096 /* staging for payloads that travel inside a record */
#define STAGE_SLOT 64   /* in a run of records, each staged payload has its own slot */
#define STAGE_SLOTS (STAGE_SIZE / STAGE_SLOT)

typedef struct vk_actor {
  rk_device *d;
  rk_handler handler; /* the reference's, with process () and init () driving the device */
  const rk_handler *ref;
  int pipe;
  rk_mem stage_in, stage_out, state; /* ours */
  VkDescriptorPool pool;
  struct {
    VkBuffer in, out;
    VkDescriptorSet set;
  } sets[N_SETS]; /* written on first use of a pair (a new route: not on every record) */
  uint32_t n_sets, next_set;
  VkCommandPool cmd_pool;
  VkCommandBuffer cmd;
  VkSemaphore timeline;
  uint64_t ticket;
  rk_accumulate_head acc; /* accumulate: host mirror of the count and length */
  uint32_t gw, gh, gd, cur; /* the wave: the grid, and which field holds u */
  uint64_t field_bytes;
  rk_spectrum_state spec; /* the spectrum: its layout (the header, as the state holds it) */
  uint32_t spec_pos, spec_nf; /* host mirror of the ring's oldest frame and the interval's FFTs */
  uint64_t spec_work;         /* the FFT work areas: bytes into the state */
  uint32_t *spec_idx;         /* the event of each FFT of a command */
  /* a run of records recorded into one submission (plain handlers): see vk_batch_open () */
  int batching;
  uint32_t batch_n;      /* records recorded since the last submission */
  uint32_t batch_status; /* the run's first failure */
  uint32_t n_stage;      /* staging slots in use */
  uint64_t batch_bytes;  /* payload bytes recorded since the last submission */
  struct {
    uint8_t *dst;
    uint32_t len;
  } copies[STAGE_SLOTS]; /* answers to copy out of staging once the submission is done: slot i's */
} vk_actor;

static uint32_t
find_pipe (uint32_t kernel_id)
{
  for (int i = 0; i < N_PIPES; i++)
    if (pipe_info[i].kernel_id == kernel_id)
      return (uint32_t) i;
  return N_PIPES;
}

static uint32_t
groups_for (uint64_t items)
{
  uint64_t g = (items + GROUP - 1) / GROUP;
  return g < 1 ? 1 : g > MAX_GROUPS ? MAX_GROUPS : (uint32_t) g;
}

/* Recording: begin, then dispatches (a barrier between two that touch the same memory), then
 * submit_wait, which ends the buffer, submits it and waits for it (WAIT_NS at most). */
static void
cmd_begin (vk_actor *s)
{
  vkResetCommandBuffer (s->cmd, 0);
  vkBeginCommandBuffer (s->cmd, &(VkCommandBufferBeginInfo) {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
      });
  /* what earlier submissions wrote (this actor's last command, an upstream actor's output in our
   * inbox), seen by this one's shaders: a barrier's first scope is everything submitted before it */
  const VkMemoryBarrier mb = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
  };
  vkCmdPipelineBarrier (s->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
      VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
}

static void
cmd_dispatch (vk_actor *s, int pipe, VkDescriptorSet set, const void *pc, uint32_t pc_size, uint32_t groups)
{
  rk_device *d = s->d;
  vkCmdBindPipeline (s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, d->pipes[pipe]);
  vkCmdBindDescriptorSets (s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, d->layout, 0, 1, &set, 0, NULL);
  vkCmdPushConstants (s->cmd, d->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, pc_size, pc);
  vkCmdDispatch (s->cmd, groups, 1, 1);
}

/* What the commands before wrote (a shader, a fill), seen by the shaders after. */
static void
cmd_barrier (vk_actor *s)
{
  const VkMemoryBarrier mb = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT,
  };
  vkCmdPipelineBarrier (s->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
      VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
}

static uint32_t
cmd_submit_wait (vk_actor *s)
{
  rk_device *d = s->d;
  if (d->hung)
    return RK_STATUS_FAULT;
  /* the shaders' writes, made visible to the host that reads the answer */
  const VkMemoryBarrier mb = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
  };
  vkCmdPipelineBarrier (s->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
      VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
  if (vkEndCommandBuffer (s->cmd) != VK_SUCCESS)
    return RK_STATUS_FAULT;

  const uint64_t ticket = ++s->ticket;
  const VkTimelineSemaphoreSubmitInfo ts = {
    .sType = VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO,
    .signalSemaphoreValueCount = 1,
    .pSignalSemaphoreValues = &ticket,
  };
  const VkSubmitInfo si = {
    .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
    .pNext = &ts,
    .commandBufferCount = 1,
    .pCommandBuffers = &s->cmd,
    .signalSemaphoreCount = 1,
    .pSignalSemaphores = &s->timeline,
  };
  pthread_mutex_lock (&d->queue_lock);
  VkResult e = vkQueueSubmit (d->queue, 1, &si, VK_NULL_HANDLE);
  pthread_mutex_unlock (&d->queue_lock);
  if (e != VK_SUCCESS)
    return RK_STATUS_FAULT;
  /* a short dispatch is done within microseconds: poll for SPIN_NS, then sleep in the driver (whose
   * wake-up alone can take tens of microseconds); not on a device that runs on the host's cores, whose
   * work a poll would slow down */
  const uint64_t t0 = now_ns ();
  uint64_t value = 0;
  while (!d->on_cpu && vkGetSemaphoreCounterValue (d->dev, s->timeline, &value) == VK_SUCCESS && value < ticket
      && now_ns () - t0 < SPIN_NS)
    ;
  e = value >= ticket ? VK_SUCCESS : vkWaitSemaphores (d->dev, &(VkSemaphoreWaitInfo) {
        .sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO,
        .semaphoreCount = 1,
        .pSemaphores = &s->timeline,
        .pValues = &ticket,
      }, d->on_cpu ? WAIT_CPU_NS : WAIT_NS);
  if (e == VK_TIMEOUT)
    d->hung = 1; /* it may never end: nothing may wait on this device again */
  return e == VK_SUCCESS ? RK_STATUS_OK : RK_STATUS_FAULT;
}

/* The descriptor set for buffers (in, out): one kept from before, or the next slot written for them
 * (slots are reused oldest first, once no recorded dispatch uses them). */
static uint32_t batch_flush (vk_actor *s);

static VkDescriptorSet
set_for (vk_actor *s, VkBuffer in, VkBuffer out)
{
  for (uint32_t i = 0; i < s->n_sets; i++)
    if (s->sets[i].in == in && s->sets[i].out == out)
      return s->sets[i].set;
  /* a set that recorded dispatches use is not written over: submit them first (a failure is the
   * run's, and shows when it closes) */
  if (s->batch_n)
    batch_flush (s);
  const uint32_t k = s->next_set++ % N_SETS;
  if (s->n_sets < N_SETS)
    s->n_sets++;
  s->sets[k].in = in;
  s->sets[k].out = out;
  const VkDescriptorBufferInfo bi[3] = {
    { in, 0, VK_WHOLE_SIZE },
    { out, 0, VK_WHOLE_SIZE },
    { ((vk_block *) s->state.priv)->buf, 0, VK_WHOLE_SIZE },
  };
  VkWriteDescriptorSet w[3];
  for (int j = 0; j < 3; j++)
    w[j] = (VkWriteDescriptorSet) {
      .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
      .dstSet = s->sets[k].set,
      .dstBinding = (uint32_t) j,
      .descriptorCount = 1,
      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
      .pBufferInfo = &bi[j],
    };
  vkUpdateDescriptorSets (s->d->dev, 3, w, 0, NULL);
  return s->sets[k].set;
}

static uint32_t
vk_process (void *state, const double *params, const uint8_t *in, uint32_t len, uint8_t *out,
    uint32_t out_cap, uint32_t *out_len)
{
  vk_actor *s = state;
  const uint32_t unit = s->ref->unit;
  if (len % unit)
    return RK_STATUS_INVALID;
  if (out_cap < len)
    return RK_STATUS_TOO_LARGE;
  vk_push pc = { .len = len, .a = (float) params[0], .b = (float) params[1], .c = (float) params[2] };
  if (s->ref->id == RK_KERNEL_ACCUMULATE) {
    const uint32_t n = len / 4;
    if (n > RK_ACCUMULATE_MAX_SAMPLES)
      return RK_STATUS_TOO_LARGE;
    pc.restart = n != s->acc.samples;
    if (pc.restart) {
      s->acc.samples = n;
      s->acc.count = 0;
    }
    s->acc.count++;
    const double inv = 1.0 / (double) s->acc.count;
    uint64_t bits;
    memcpy (&bits, &inv, sizeof bits);
    pc.inv_lo = (uint32_t) bits;
    pc.inv_hi = (uint32_t) (bits >> 32);
  }
  if (len == 0) {
    *out_len = 0;
    return RK_STATUS_OK;
  }
  /* a payload in an arena or an inbox of this device is read (and an output written) where it is; one
   * carried inside a record goes through staging */
  VkBuffer ib, ob;
  uint64_t ioff = 0, ooff = 0;
  const int in_place = find_block (s->d, in, len, &ib, &ioff) && !(ioff & 3);
  const int out_place = find_block (s->d, out, len, &ob, &ooff) && !(ooff & 3);
  if ((!in_place || !out_place) && len > s->stage_in.size)
    return RK_STATUS_INVALID;
  if (!in_place)
    ib = ((vk_block *) s->stage_in.priv)->buf;
  if (!out_place)
    ob = ((vk_block *) s->stage_out.priv)->buf;
  const VkDescriptorSet set = set_for (s, ib, ob); /* may submit what is recorded */
  /* in a run, a staged payload takes a slot of its own (a full run, or a payload larger than a slot,
   * submits what is recorded first) */
  int defer = s->batching;
  uint64_t slot = 0;
  if (defer && (!in_place || !out_place)) {
    if (s->n_stage == STAGE_SLOTS || len > STAGE_SLOT)
      batch_flush (s);
    if (len <= STAGE_SLOT)
      slot = (uint64_t) s->n_stage++ * STAGE_SLOT;
    else
      defer = 0;
  }
  if (!in_place) {
    memcpy ((uint8_t *) s->stage_in.host + slot, in, len);
    ioff = slot;
  }
  if (!out_place)
    ooff = slot;
  pc.in_word = (uint32_t) (ioff / 4);
  pc.out_word = (uint32_t) (ooff / 4);
  if (s->batch_n == 0)
    cmd_begin (s);
  else
    cmd_barrier (s); /* one record's writes before the next one's reads (accumulate's sums) */
  cmd_dispatch (s, s->pipe, set, &pc, sizeof pc, groups_for ((len + 3) / 4));
  *out_len = len;
  if (defer) {
    /* answered OK now, done when the run's submission is (vk_batch_close ()) */
    if (!out_place) {
      s->copies[slot / STAGE_SLOT].dst = out;
      s->copies[slot / STAGE_SLOT].len = len;
    }
    s->batch_n++;
    s->batch_bytes += len;
    if (s->batch_bytes >= RUN_BYTES) /* a run's submission stays short */
      batch_flush (s);
    return RK_STATUS_OK;
  }
  uint32_t st = cmd_submit_wait (s);
  if (st != RK_STATUS_OK) {
    *out_len = 0;
    return st;
  }
  if (!out_place)
    memcpy (out, s->stage_out.host, len);
  return RK_STATUS_OK;
}

/* Runs of records (rk_host_actor.h, rk_host_batch): a plain handler's records are recorded one after
 * the other into one command buffer, a barrier between two, and submitted together when the run ends,
 * so that a stream of records costs one submission and one wait per run rather than per record. The
 * wave's and the spectrum's commands are large enough to be a submission each. */
static uint32_t
batch_flush (vk_actor *s)
{
  if (s->batch_n == 0)
    return RK_STATUS_OK;
  const uint32_t st = cmd_submit_wait (s);
  if (st == RK_STATUS_OK) {
    for (uint32_t i = 0; i < s->n_stage; i++)
      if (s->copies[i].dst)
        memcpy (s->copies[i].dst, (uint8_t *) s->stage_out.host + (size_t) i * STAGE_SLOT, s->copies[i].len);
  } else if (s->batch_status == RK_STATUS_OK) {
    s->batch_status = st;
  }
  memset (s->copies, 0, sizeof s->copies);
  s->batch_n = 0;
  s->batch_bytes = 0;
  s->n_stage = 0;
  return st;
}

static bool
vk_batch_open (void *state)
{
  vk_actor *s = state;
  if (s->ref->id == RK_KERNEL_WAVE || s->ref->id == RK_KERNEL_SPECTRUM)
    return false;
  s->batching = 1;
  s->batch_status = RK_STATUS_OK;
  return true;
}

static uint32_t
vk_batch_close (void *state)
{
  vk_actor *s = state;
  batch_flush (s);
  s->batching = 0;
  return s->batch_status;
}

static void
vk_init (void *state, const double *params)
{
  vk_actor *s = state;
  (void) params;
  memset (&s->acc, 0, sizeof s->acc); /* the sums restart with the first buffer */
}

/* ---- the wave (rkwavesrc): a frame is its steps, a barrier after each, and the render, in one or a
 * few submissions; the two fields are the actor's state ---- */

static uint32_t
wave_clear (vk_actor *s)
{
  cmd_begin (s);
  vkCmdFillBuffer (s->cmd, ((vk_block *) s->state.priv)->buf, 0, VK_WHOLE_SIZE, 0);
  s->cur = 0;
  return cmd_submit_wait (s);
}

static void
vk_wave_init (void *state, const double *params)
{
  (void) params;
  wave_clear (state); /* a fault here shows on the first command */
}

#define WAVE_STEPS_PER_SUBMIT 1024

static uint32_t
vk_wave_process (void *state, const double *params, const uint8_t *in, uint32_t len, uint8_t *out,
    uint32_t out_cap, uint32_t *out_len)
{
  vk_actor *s = state;
  const uint64_t cells = (uint64_t) s->gw * s->gh * s->gd;
  const uint32_t fw = (uint32_t) (s->field_bytes / 4);
  vk_wave_push pc = { .w = s->gw, .h = s->gh, .d = s->gd };
  VkBuffer stage_in = ((vk_block *) s->stage_in.priv)->buf;
  uint32_t st;

  *out_len = 0;
  switch (rk_wave_command (in, len)) {
    case RK_WAVE_FRAME: {
      rk_wave_frame f;
      memcpy (&f, in, sizeof f);
      if ((st = rk_wave_frame_check (&f, s->gw, s->gh, out_cap, out_len)) != RK_STATUS_OK)
        return st;
      /* the frame goes where `out` is (an arena, a downstream inbox), or through staging */
      VkBuffer ob = ((vk_block *) s->stage_out.priv)->buf;
      uint64_t ooff = 0;
      int out_place = 0;
      if (f.format != RK_WAVE_FMT_NONE) {
        out_place = find_block (s->d, out, *out_len, &ob, &ooff) && !(ooff & 3);
        if (!out_place) {
          ob = ((vk_block *) s->stage_out.priv)->buf;
          if (*out_len > s->stage_out.size)
            return RK_STATUS_INVALID;
        }
      }
      const VkDescriptorSet set = set_for (s, stage_in, ob);
      const float c = (float) params[RK_WAVE_P_SPEED];
      pc.c2 = c * c;
      pc.keep0 = 1.0f - (float) params[RK_WAVE_P_DAMPING];
      pc.k = s->gd > 1 ? 6.0f : 4.0f;
      pc.band = params[RK_WAVE_P_BOUNDARY] == RK_WAVE_ABSORBING ? rk_wave_band (s->gw, s->gh, s->gd) : 0;
      uint32_t done = 0;
      do {
        const uint32_t n = f.steps - done < WAVE_STEPS_PER_SUBMIT ? f.steps - done : WAVE_STEPS_PER_SUBMIT;
        cmd_begin (s);
        for (uint32_t i = 0; i < n; i++) {
          pc.u_word = s->cur * fw;
          pc.p_word = (s->cur ^ 1) * fw;
          cmd_dispatch (s, PIPE_WAVE_STEP, set, &pc, sizeof pc, groups_for (cells));
          cmd_barrier (s);
          s->cur ^= 1;
        }
        done += n;
        if (done == f.steps && f.format != RK_WAVE_FMT_NONE) {
          pc.u_word = s->cur * fw;
          pc.out_word = (uint32_t) (ooff / 4);
          pc.format = f.format;
          pc.stride = f.stride;
          pc.z = rk_wave_slice (params, s->gd);
          pc.gain = (float) params[RK_WAVE_P_GAIN];
          cmd_dispatch (s, PIPE_WAVE_RENDER, set, &pc, sizeof pc, groups_for ((*out_len + 3) / 4));
        }
        if ((st = cmd_submit_wait (s)) != RK_STATUS_OK)
          return st;
      } while (done < f.steps);
      if (f.format != RK_WAVE_FMT_NONE && !out_place)
        memcpy (out, s->stage_out.host, *out_len);
      return RK_STATUS_OK;
    }
    case RK_WAVE_IMPULSE: {
      rk_wave_impulse imp;
      memcpy (&imp, in, sizeof imp);
      if ((st = rk_wave_impulse_check (&imp)) != RK_STATUS_OK)
        return st;
      pc.u_word = s->cur * fw;
      pc.p_word = (s->cur ^ 1) * fw;
      pc.ix = imp.x;
      pc.iy = imp.y;
      pc.iz = imp.z;
      pc.amp = imp.amplitude;
      pc.radius = imp.radius;
      const uint64_t side = 2 * (uint64_t) ((int32_t) imp.radius + 1) + 1;
      cmd_begin (s);
      cmd_dispatch (s, PIPE_WAVE_IMPULSE, set_for (s, stage_in, ((vk_block *) s->stage_out.priv)->buf), &pc,
          sizeof pc, groups_for (side * side * (s->gd > 1 ? side : 1)));
      return cmd_submit_wait (s);
    }
    case RK_WAVE_RESET:
      return wave_clear (s);
    default:
      return RK_STATUS_INVALID;
  }
}

/* ---- the spectrum (rkspectrum): the host checks and plans each command, the device computes; a
 * command is a submission of dispatches per batch of FFTs (gpu/vulkan/shaders/spectrum_*.comp):
 * windowed input, a Stockham stage per radix, the bins' terms, the sums in event order; then the ring.
 * The state is the C reference's layout (core/rk_spectrum.h), plus two FFT work areas; the ring's
 * position and the interval's FFT count are the host's (they follow from the commands alone). ---- */

/* The state as the C reference's init () leaves it (header, window, twiddles; ring and sums zero), in
 * the actor's device memory. */
static int
spectrum_upload (vk_actor *s, const double *params, char *why, size_t why_len)
{
  const size_t n = s->spec.values_off;
  void *img = aligned_alloc (RK_ARENA_ALIGN, n);
  rk_mem stage = { 0 };
  int r = -ENOMEM;
  if (!img || vk_alloc_mapped (s->d, n, &stage) < 0) {
    snprintf (why, why_len, "cannot allocate %zu bytes to set up the spectrum's tables", n);
    goto out;
  }
  s->ref->init (img, params);
  memcpy (stage.host, img, n);
  cmd_begin (s);
  vkCmdCopyBuffer (s->cmd, ((vk_block *) stage.priv)->buf, ((vk_block *) s->state.priv)->buf, 1,
      &(VkBufferCopy) { 0, 0, n });
  r = cmd_submit_wait (s) == RK_STATUS_OK ? 0 : -EIO;
  if (r < 0)
    snprintf (why, why_len, "the copy of the spectrum's tables to the device failed");
out:
  if (stage.priv)
    vk_free (s->d, &stage);
  free (img);
  return r;
}

static void
vk_spectrum_init (void *state, const double *params)
{
  vk_actor *s = state;
  (void) params;
  s->spec_pos = 0; /* as uploaded when the actor started (init () runs once, at the start) */
  s->spec_nf = 0;
}

static uint32_t
vk_spectrum_process (void *state, const double *params, const uint8_t *in, uint32_t len, uint8_t *out,
    uint32_t out_cap, uint32_t *out_len)
{
  vk_actor *s = state;
  const rk_spectrum_state *sp = &s->spec;
  rk_spectrum_cmd c;
  const rk_spectrum_event *ev;
  (void) params;
  *out_len = 0;
  uint32_t answer = 0, st = rk_spectrum_read (in, len, sp->bands, sp->channels, out_cap, &c, &ev, &answer);
  if (st != RK_STATUS_OK)
    return st;

  /* the command is read where it is (an arena, an inbox), or from staging; the answer likewise */
  VkBuffer ib, ob;
  uint64_t ioff = 0, ooff = 0;
  if (!find_block (s->d, in, len, &ib, &ioff) || (ioff & 3)) {
    if (len > s->stage_in.size)
      return RK_STATUS_INVALID;
    memcpy (s->stage_in.host, in, len);
    ib = ((vk_block *) s->stage_in.priv)->buf;
    ioff = 0;
  }
  const int out_place = answer && find_block (s->d, out, answer, &ob, &ooff) && !(ooff & 3);
  if (!out_place) {
    if (answer > s->stage_out.size)
      return RK_STATUS_TOO_LARGE;
    ob = ((vk_block *) s->stage_out.priv)->buf;
    ooff = 0;
  }

  /* the plan: each FFT's event, in the state's index area */
  const uint32_t C = sp->channels, M = sp->half, B = sp->bands;
  const int ffts = (c.flags & (RK_SPECTRUM_F_MAGNITUDE | RK_SPECTRUM_F_PHASE)) != 0;
  uint32_t n_fft = 0;
  for (uint32_t e = 0; e < c.n_events; e++)
    if (ev[e].kind & RK_SPECTRUM_EV_FFT)
      s->spec_idx[n_fft++] = e;
  const VkDescriptorSet set = set_for (s, ib, ob);
  const VkBuffer state_buf = ((vk_block *) s->state.priv)->buf;
  const uint32_t work_a = (uint32_t) (s->spec_work / 4);
  const uint32_t work_b = work_a + (uint32_t) ((uint64_t) sp->batch * C * M * 2);
  vk_spec_push pc = { .in_word = (uint32_t) (ioff / 4), .out_word = (uint32_t) (ooff / 4), .pos = s->spec_pos };
  uint32_t nf = (c.flags & RK_SPECTRUM_F_RESTART) ? 0 : s->spec_nf, ends = 0;

  cmd_begin (s);
  if (ffts && n_fft) {
    vkCmdUpdateBuffer (s->cmd, state_buf, sp->index_off, (VkDeviceSize) n_fft * 4, s->spec_idx);
    cmd_barrier (s);
  }
  for (uint32_t j0 = 0, j1;; j0 = j1) {
    /* without terms to compute, one pass of the sums over every event */
    j1 = !ffts ? n_fft : j0 + sp->batch < n_fft ? j0 + sp->batch : n_fft;
    pc.j0 = j0;
    pc.nb = j1 - j0;
    if (ffts && j1 > j0) {
      pc.a_word = work_b; /* the input goes to a, and each stage from a to b, then the other way */
      pc.b_word = work_a;
      cmd_dispatch (s, PIPE_SPEC_INPUT, set, &pc, sizeof pc, groups_for ((uint64_t) pc.nb * C * M));
      cmd_barrier (s);
      pc.Ns = 1;
      for (uint32_t f = 0; f < sp->n_factors; f++) {
        const uint32_t t = pc.a_word;
        pc.a_word = pc.b_word;
        pc.b_word = t;
        pc.R = sp->factors[f];
        cmd_dispatch (s, PIPE_SPEC_STAGE, set, &pc, sizeof pc, groups_for ((uint64_t) pc.nb * C * M));
        cmd_barrier (s);
        pc.Ns *= pc.R;
      }
      pc.a_word = pc.b_word; /* the transforms */
      cmd_dispatch (s, PIPE_SPEC_BINS, set, &pc, sizeof pc, groups_for ((uint64_t) pc.nb * C * B));
      cmd_barrier (s);
    }
    pc.e0 = j0 == 0 ? 0 : s->spec_idx[j0];
    pc.e1 = j1 == n_fft ? c.n_events : s->spec_idx[j1];
    pc.nf = nf;
    pc.ends = ends;
    pc.restart = j0 == 0 && (c.flags & RK_SPECTRUM_F_RESTART);
    cmd_dispatch (s, PIPE_SPEC_SUMS, set, &pc, sizeof pc, groups_for ((uint64_t) C * B));
    cmd_barrier (s); /* the values area is the next batch's; the sums are done */
    for (uint32_t e = pc.e0; e < pc.e1; e++) {
      nf += (ev[e].kind & RK_SPECTRUM_EV_FFT) != 0;
      if (ev[e].kind & RK_SPECTRUM_EV_END) {
        nf = 0;
        ends++;
      }
    }
    if (j1 >= n_fft)
      break;
    /* a submission per batch keeps each one short */
    if ((st = cmd_submit_wait (s)) != RK_STATUS_OK)
      return st;
    cmd_begin (s);
  }
  const uint32_t kept = c.frames < sp->nfft ? c.frames : sp->nfft;
  if (kept)
    cmd_dispatch (s, PIPE_SPEC_RING, set, &pc, sizeof pc, groups_for ((uint64_t) C * kept));
  if ((st = cmd_submit_wait (s)) != RK_STATUS_OK)
    return st;
  if (answer && !out_place)
    memcpy (out, s->stage_out.host, answer);
  s->spec_pos = (uint32_t) ((s->spec_pos + (uint64_t) c.frames) % sp->nfft);
  s->spec_nf = nf;
  *out_len = answer;
  return RK_STATUS_OK;
}

static void
vk_actor_free (void *state)
{
  vk_actor *s = state;
  rk_device *d = s->d;
  if (!d->hung) {
    if (s->timeline)
      vkDestroySemaphore (d->dev, s->timeline, NULL);
    if (s->cmd_pool)
      vkDestroyCommandPool (d->dev, s->cmd_pool, NULL);
    if (s->pool)
      vkDestroyDescriptorPool (d->dev, s->pool, NULL);
  }
  if (s->stage_in.priv)
    vk_free (d, &s->stage_in);
  if (s->stage_out.priv)
    vk_free (d, &s->stage_out);
  if (s->state.priv)
    vk_free (d, &s->state);
  free (s->spec_idx);
  free (s);
}

static int
vk_fail (vk_actor *s, int r, char *why, size_t why_len, const char *what)
{
  snprintf (why, why_len, "Vulkan device %d (%s): %s", s->d->id, s->d->name, what);
  vk_actor_free (s);
  return r;
}

static int
vk_launch (rk_device *d, const rk_launch *l, rk_actor_impl **impl, char *why, size_t why_len)
{
  const rk_handler *h = l->handler;
  const uint32_t pipe = find_pipe (h->id);
  if (h->id == RK_KERNEL_USER) {
    snprintf (why, why_len, "the Vulkan backend runs the built-in handlers; kernel files (%s) are CUDA "
        "source, for backend=cuda", l->kernel_path ? l->kernel_path : "user");
    return -ENOTSUP;
  }
  if (pipe == N_PIPES) {
    snprintf (why, why_len, "the Vulkan backend has no shader for handler '%s' yet; use backend=cuda or "
        "backend=cpu", h->name);
    return -ENOTSUP;
  }
  if (!d->pipes[pipe]) {
    snprintf (why, why_len, "Vulkan device %d (%s) lacks shaderFloat64, which handler '%s' needs (it "
        "computes in double precision)", d->id, d->name, h->name);
    return -ENOTSUP;
  }
  vk_actor *s = calloc (1, sizeof *s);
  if (!s)
    return -ENOMEM;
  s->d = d;
  s->ref = h;
  s->pipe = (int) pipe;

  /* staging for payloads carried in records, the state in device memory */
  if (vk_alloc_mapped (d, STAGE_SIZE, &s->stage_in) < 0 || vk_alloc_mapped (d, STAGE_SIZE, &s->stage_out) < 0)
    return vk_fail (s, -ENOMEM, why, why_len, "cannot allocate staging memory");
  size_t state_size = h->id == RK_KERNEL_ACCUMULATE ? sizeof (double) * RK_ACCUMULATE_MAX_SAMPLES : 256;
  if (h->id == RK_KERNEL_WAVE) {
    if (!rk_wave_state_size (l->params))
      return vk_fail (s, -EINVAL, why, why_len, "the wave's grid is out of range");
    s->gw = (uint32_t) l->params[RK_WAVE_P_WIDTH];
    s->gh = (uint32_t) l->params[RK_WAVE_P_HEIGHT];
    s->gd = (uint32_t) l->params[RK_WAVE_P_DEPTH];
    s->field_bytes = rk_wave_field_bytes (s->gw, s->gh, s->gd);
    state_size = 2 * s->field_bytes; /* the two fields; the header stays on the host */
  }
  if (h->id == RK_KERNEL_SPECTRUM) {
    if (!rk_spectrum_layout (l->params, &s->spec))
      return vk_fail (s, -EINVAL, why, why_len, "the spectrum's bands or channels are out of range");
    /* after the reference's layout: the two FFT work areas of a batch (M complex values per FFT and
     * channel each) */
    uint64_t work_per_fft = 0;
    uint32_t largest = 1;
    for (uint32_t f = 0; f < s->spec.n_factors; f++) {
      work_per_fft += (uint64_t) s->spec.half * s->spec.factors[f];
      largest = s->spec.factors[f] > largest ? s->spec.factors[f] : largest;
    }
    if (work_per_fft > SPEC_MAX_FFT_WORK) {
      char what[256];
      snprintf (what, sizeof what, "bands=%u: the FFT of %u frames has the prime factor %u, which makes one "
          "FFT cost %llu complex multiply-adds (this backend takes at most %llu); choose bands so that "
          "bands - 1 has small prime factors", s->spec.bands, s->spec.nfft, largest,
          (unsigned long long) work_per_fft, (unsigned long long) SPEC_MAX_FFT_WORK);
      return vk_fail (s, -EINVAL, why, why_len, what);
    }
    s->spec_work = s->spec.size;
    const uint64_t work = (uint64_t) s->spec.batch * s->spec.channels * s->spec.half * sizeof (rk_cf);
    state_size = s->spec_work + 2 * work;
    if (state_size / 4 > UINT32_MAX || !(s->spec_idx = malloc (RK_SPECTRUM_MAX_EVENTS * sizeof (uint32_t))))
      return vk_fail (s, -ENOMEM, why, why_len, "the spectrum's state is too large");
  }
  /* a shader sees each buffer whole: none may pass the device's limit */
  const struct { const char *what; uint64_t size; } sizes[] = {
    { "state", state_size }, { "input arena", l->in_arena.size }, { "output arena", l->out_arena.size },
    { "inbox arena", l->inbox_arena.size },
  };
  for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    if (sizes[i].size > d->max_range) {
      char what[256];
      snprintf (what, sizeof what, "the actor's %s of %llu bytes passes the largest storage buffer the "
          "device takes (maxStorageBufferRange, %llu bytes)", sizes[i].what,
          (unsigned long long) sizes[i].size, (unsigned long long) d->max_range);
      return vk_fail (s, -E2BIG, why, why_len, what);
    }
  if (alloc_block (d, state_size, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, &s->state) < 0
      && alloc_block (d, state_size, 0, &s->state) < 0)
    return vk_fail (s, -ENOMEM, why, why_len, "cannot allocate the actor's state");

  const VkDescriptorPoolSize ps = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 3 * N_SETS };
  if (vkCreateDescriptorPool (d->dev, &(VkDescriptorPoolCreateInfo) {
          .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
          .maxSets = N_SETS,
          .poolSizeCount = 1,
          .pPoolSizes = &ps,
        }, NULL, &s->pool) != VK_SUCCESS)
    return vk_fail (s, -ENOMEM, why, why_len, "cannot create a descriptor pool");
  VkDescriptorSetLayout layouts[N_SETS];
  VkDescriptorSet sets[N_SETS];
  for (int i = 0; i < N_SETS; i++)
    layouts[i] = d->set_layout;
  if (vkAllocateDescriptorSets (d->dev, &(VkDescriptorSetAllocateInfo) {
          .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
          .descriptorPool = s->pool,
          .descriptorSetCount = N_SETS,
          .pSetLayouts = layouts,
        }, sets) != VK_SUCCESS)
    return vk_fail (s, -ENOMEM, why, why_len, "cannot allocate descriptor sets");
  for (int i = 0; i < N_SETS; i++)
    s->sets[i].set = sets[i];
  /* the pairs every record of a plain actor uses, written now */
  VkBuffer stage_in = ((vk_block *) s->stage_in.priv)->buf, stage_out = ((vk_block *) s->stage_out.priv)->buf;
  VkBuffer in_arena = ((vk_block *) l->in_arena.priv)->buf, out_arena = ((vk_block *) l->out_arena.priv)->buf;
  set_for (s, in_arena, out_arena);
  set_for (s, stage_in, out_arena);
  set_for (s, in_arena, stage_out);
  set_for (s, stage_in, stage_out);

  if (vkCreateCommandPool (d->dev, &(VkCommandPoolCreateInfo) {
          .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
          .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
          .queueFamilyIndex = d->family,
        }, NULL, &s->cmd_pool) != VK_SUCCESS
      || vkAllocateCommandBuffers (d->dev, &(VkCommandBufferAllocateInfo) {
             .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
             .commandPool = s->cmd_pool,
             .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
             .commandBufferCount = 1,
           }, &s->cmd) != VK_SUCCESS)
    return vk_fail (s, -ENOMEM, why, why_len, "cannot create a command buffer");
  const VkSemaphoreTypeCreateInfo sti = {
    .sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO,
    .semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE,
  };
  if (vkCreateSemaphore (d->dev, &(VkSemaphoreCreateInfo) {
          .sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO,
          .pNext = &sti,
        }, NULL, &s->timeline) != VK_SUCCESS)
    return vk_fail (s, -ENOMEM, why, why_len, "cannot create a timeline semaphore");

  if (h->id == RK_KERNEL_SPECTRUM) {
    char reason[256] = "";
    if (spectrum_upload (s, l->params, reason, sizeof reason) < 0)
      return vk_fail (s, -EIO, why, why_len, reason);
  }

  s->handler = *h;
  s->handler.init = h->id == RK_KERNEL_WAVE ? vk_wave_init : h->id == RK_KERNEL_SPECTRUM ? vk_spectrum_init
      : vk_init;
  s->handler.process = h->id == RK_KERNEL_WAVE ? vk_wave_process
      : h->id == RK_KERNEL_SPECTRUM ? vk_spectrum_process : vk_process;
  s->handler.save = NULL; /* snapshots: not on this backend yet (the command answers UNSUPPORTED) */
  s->handler.load = NULL;
  /* K2K: inboxes and routes are memory of this backend that the host thread can address */
  static const rk_host_batch batch = { vk_batch_open, vk_batch_close };
  return rk_host_actor_start_batched (l, &s->handler, s, vk_actor_free, RK_HOST_LINKS, &batch, (rk_host_actor **) impl,
      why, why_len);
}

static void
vk_doorbell (rk_actor_impl *impl)
{
  rk_host_actor_doorbell ((rk_host_actor *) impl);
}

static int
vk_join (rk_actor_impl *impl, int64_t timeout_ns)
{
  return rk_host_actor_join ((rk_host_actor *) impl, timeout_ns);
}

static int
vk_check (rk_actor_impl *impl, char *why, size_t why_len)
{
  return rk_host_actor_check ((rk_host_actor *) impl, why, why_len);
}

const rk_backend_ops rk_backend_vulkan = {
  .name = "vulkan",
  .kind = RK_BACKEND_VULKAN,
  .wakes_host = 1,
  .modes = (1u << RK_MODE_PERSISTENT) | (1u << RK_MODE_LAUNCH),
  .link_paths = 1u << RK_LINK_DEVICE,
  .probe = vk_probe,
  .probe_auto = vk_probe_auto,
  .open = vk_open,
  .close = vk_close,
  .alloc_mapped = vk_alloc_mapped,
  .free = vk_free,
  .alloc_device = vk_alloc_device,
  .upload = vk_upload,
  .launch = vk_launch,
  .doorbell = vk_doorbell,
  .join = vk_join,
  .check = vk_check,
};

int
rk_vulkan_device_info (int device_id, char *buf, size_t len)
{
  VkInstance inst;
  if (get_instance (&inst) != VK_SUCCESS) {
    snprintf (buf, len, "no Vulkan driver");
    return -ENODEV;
  }
  VkPhysicalDevice phys;
  VkPhysicalDeviceProperties props;
  uint32_t family;
  int r = find_device (inst, device_id, &phys, &family, &props, buf, len);
  if (r == 0) {
    VkPhysicalDeviceFeatures f;
    vkGetPhysicalDeviceFeatures (phys, &f);
    VkPhysicalDeviceVulkan12Properties p12 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_PROPERTIES };
    VkPhysicalDeviceProperties2 p2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &p12 };
    vkGetPhysicalDeviceProperties2 (phys, &p2);
    snprintf (buf, len, "%s (%s, Vulkan %u.%u, driver %u, float64 %s, float32 denormals kept %s)",
        props.deviceName, type_name (props.deviceType), VK_API_VERSION_MAJOR (props.apiVersion),
        VK_API_VERSION_MINOR (props.apiVersion), props.driverVersion, f.shaderFloat64 ? "yes" : "no",
        p12.shaderDenormPreserveFloat32 ? "promised" : "not promised");
  }
  return r;
}
