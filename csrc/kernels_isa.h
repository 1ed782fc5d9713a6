/* kernels_isa.h: instantiate kernels_body.h for float and double under one instruction
 * set.  The including file sets `#pragma GCC target(...)` first (or nothing, for the
 * baseline) and defines FL_ISA; every function below, the inlined math included, is
 * compiled for that target. */
#include "fl_math.h"
#include "fl_internal.h"

#define REAL float
#define FL_T f32
#define EXP fl_expf
#define EXP_NP fl_expf_nonpos
#define LOG fl_logf
#define LOG_POS fl_logf_pos
#define LOG1P fl_log1pf
#define LOG1P_UNIT fl_log1p_unitf
#define SOFTPLUS fl_softplusf
#define SIGMOID fl_sigmoidf
#include "kernels_body.h"
#undef REAL
#undef FL_T
#undef EXP
#undef EXP_NP
#undef LOG
#undef LOG_POS
#undef LOG1P
#undef LOG1P_UNIT
#undef SOFTPLUS
#undef SIGMOID

#define REAL double
#define FL_T f64
#define EXP fl_exp
#define EXP_NP fl_exp_nonpos
#define LOG fl_log
#define LOG_POS fl_log_pos
#define LOG1P fl_log1p
#define LOG1P_UNIT fl_log1p_unit
#define SOFTPLUS fl_softplus
#define SIGMOID fl_sigmoid
#include "kernels_body.h"
#undef REAL
#undef FL_T
#undef EXP
#undef EXP_NP
#undef LOG
#undef LOG_POS
#undef LOG1P
#undef LOG1P_UNIT
#undef SOFTPLUS
#undef SIGMOID

#define FL_TABLE_(isa) fl_table_##isa
#define FL_TABLE(isa) FL_TABLE_(isa)
#define FL_K_(name, t, isa) name##_##t##_##isa
#define FL_K(name, t, isa) FL_K_(name, t, isa)

const fl_isa_table FL_TABLE(FL_ISA) = {
    {FL_K(fl_math, f32, FL_ISA), FL_K(fl_math, f64, FL_ISA)},
    {FL_K(fl_ce_block, f32, FL_ISA), FL_K(fl_ce_block, f64, FL_ISA)},
    {FL_K(fl_bce_block, f32, FL_ISA), FL_K(fl_bce_block, f64, FL_ISA)},
    {
#define FL_EW_OP(name) {FL_K(fl_ew_##name, f32, FL_ISA), FL_K(fl_ew_##name, f64, FL_ISA)},
#define FL_ROW_OP(name)
#include "ops.def"
#undef FL_EW_OP
#undef FL_ROW_OP
        {0, 0}},
    {
#define FL_EW_OP(name)
#define FL_ROW_OP(name) {FL_K(fl_row_##name, f32, FL_ISA), FL_K(fl_row_##name, f64, FL_ISA)},
#include "ops.def"
#undef FL_EW_OP
#undef FL_ROW_OP
        {0, 0}},
    {FL_K(fl_argmax_rows, f32, FL_ISA), FL_K(fl_argmax_rows, f64, FL_ISA)},
};
