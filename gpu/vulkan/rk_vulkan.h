/* gst-ringkernel: the Vulkan backend's own entry points (the rest is behind rk_backend_ops). */
#ifndef RK_VULKAN_H
#define RK_VULKAN_H

#include <stddef.h>

/* A line about Vulkan device device_id (name, type, version, float64), or why there is none. */
int rk_vulkan_device_info (int device_id, char *buf, size_t len);

#endif /* RK_VULKAN_H */
