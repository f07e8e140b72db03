// gst-ringkernel: float32 denormals kept, as the C reference and the CUDA code keep them, on devices
// that can promise it (shaderDenormPreserveFloat32): rk_vulkan.c then picks the shaders built with
// RK_DENORM_PRESERVE. Elsewhere the device's default applies (lavapipe keeps them).
#ifdef RK_DENORM_PRESERVE
#extension GL_EXT_spirv_intrinsics : require
spirv_execution_mode(capabilities = [4464], 4459, 32); // DenormPreserve, 32-bit floats
#endif
