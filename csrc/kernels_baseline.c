/* The portable build of the kernels: SSE2, which every x86-64 CPU has. */
#define FL_ISA baseline
#include "kernels_isa.h"
