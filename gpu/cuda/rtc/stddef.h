/* stddef.h for programs compiled at run time by NVRTC (size_t is built in there). */
#pragma once
#define offsetof(t, m) ((size_t) & (((t *) 0)->m))
#ifndef NULL
#define NULL 0
#endif
