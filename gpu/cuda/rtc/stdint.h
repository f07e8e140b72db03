/* stdint.h for programs compiled at run time by NVRTC, which ships no C library headers. */
#pragma once
typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef signed char int8_t;
typedef short int16_t;
typedef int int32_t;
typedef long long int64_t;
typedef unsigned long long uintptr_t;
#define UINT64_C(c) c##ULL
#define UINT64_MAX 0xffffffffffffffffULL
#define UINT32_MAX 0xffffffffu
