/* The kernels built for AVX-512 (F, DQ, BW, VL), chosen at run time. */
#if defined(__x86_64__) || defined(_M_X64)
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#define FL_ISA avx512
#include "kernels_isa.h"
#else
#include "fl_internal.h"
const fl_isa_table fl_table_avx512 = {{0, 0}, {0, 0}, {0, 0}, {0, 0}};
#endif
