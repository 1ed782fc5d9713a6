/* The kernels built for AVX2 with FMA (Haswell and later), chosen at run time. */
#if defined(__x86_64__) || defined(_M_X64)
#pragma GCC target("avx2,fma")
#define FL_ISA avx2
#include "kernels_isa.h"
#else
#include "fl_internal.h"
const fl_isa_table fl_table_avx2 = {{0, 0}, {0, 0}, {0, 0}, {0, 0}};
#endif
