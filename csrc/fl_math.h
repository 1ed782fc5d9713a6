/* fl_math.h: branch-free, vectorizable elementary functions for the kernels.
 *
 * Every function here is `static inline`, uses no libm call, no table and no branch
 * (selects are written so that GCC if-converts them), so a loop that calls them
 * vectorizes.  Bit casts go through a union, which GCC turns into register moves.
 *
 * Accuracy: the largest error from the exact value, in ulp of the result, for float32
 * and float64 alike (tests/test_math.py asserts these bounds on every SIMD level, on
 * random bit patterns over the whole range plus +-inf, NaN, subnormals and the overflow
 * and underflow thresholds, against float64 / x87 long double references):
 *   exp <= 1 (measured 0.96)    log <= 1 (0.82)    log1p <= 1.5 (1.44)
 *   exp_nonpos <= 1 for x >= -87.68 (float64: -708.75), 0 below (see fl_expf_nonpos)
 *   softplus <= 2 (1.75)        sigmoid <= 3 (2.59: exp, then three roundings of 1/2)
 * Results in the subnormal range are rounded once (the scale 2^k is applied as two
 * exact factors), so the bound holds there too.
 */
#ifndef FL_MATH_H
#define FL_MATH_H

#include <stdint.h>

/* Always inlined: a call left in a loop stops it from vectorizing, and GCC's inlining
 * budget runs out in the larger kernels (seen: fl_logf called out of line in the BCE loop,
 * which then ran scalar at a tenth of the speed). */
#define FL_MATH_INLINE static inline __attribute__((always_inline))

/* a * b + c rounded once where the instruction set has FMA (the AVX2 and AVX-512 builds;
 * `#pragma GCC target("fma")` defines __FMA__), else rounded twice.  Written out because
 * the kernels build with -ffp-contract=off (see setup.py). */
#ifdef __FMA__
#define FL_FMAF(a, b, c) __builtin_fmaf((a), (b), (c))
#define FL_FMA(a, b, c) __builtin_fma((a), (b), (c))
#else
#define FL_FMAF(a, b, c) ((a) * (b) + (c))
#define FL_FMA(a, b, c) ((a) * (b) + (c))
#endif

typedef union { float f; int32_t i; uint32_t u; } fl_bits32;
typedef union { double f; int64_t i; uint64_t u; } fl_bits64;

FL_MATH_INLINE float fl_f32_from_bits(int32_t i) { fl_bits32 b; b.i = i; return b.f; }
FL_MATH_INLINE int32_t fl_f32_bits(float f) { fl_bits32 b; b.f = f; return b.i; }
FL_MATH_INLINE double fl_f64_from_bits(int64_t i) { fl_bits64 b; b.i = i; return b.f; }
FL_MATH_INLINE int64_t fl_f64_bits(double f) { fl_bits64 b; b.f = f; return b.i; }

/* ---------------------------------------------------------------- exp ---------- */
/* exp(x) = 2^k * exp(r), k = round(x / ln2), |r| <= ln2/2.  k is read from the bits
 * of x/ln2 + 1.5*2^23 (no float->int conversion), and 2^k is applied as 2^k1 * 2^k2
 * with k1 = round(k/2) so that both factors are normal numbers for every clamped x:
 * the product rounds once, also into the subnormal range.  NaN propagates through r;
 * +inf is clamped to 100 (-> 2^144 -> inf), -inf to -110 (-> 0). */
/* The shared core: t = x / ln2 + 1.5 * 2^N (k = round(x / ln2) in its low bits),
 * kf = k, and exp(r) for r = x - k ln2, |r| <= ln2 / 2. */
FL_MATH_INLINE float fl_expf_core(float x, float *t_out, float *kf_out)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    float t = FL_FMAF(x, 1.44269504088896341f, magic);
    float kf = t - magic;
    float r = FL_FMAF(kf, -0.693359375f, x);   /* ln2 hi: 9 bits, kf * hi is exact */
    r = FL_FMAF(kf, 2.12194440e-4f, r);       /* ln2 lo */
    float p = 1.9875691500e-4f;
    p = FL_FMAF(p, r, 1.3981999507e-3f);
    p = FL_FMAF(p, r, 8.3334519073e-3f);
    p = FL_FMAF(p, r, 4.1665795894e-2f);
    p = FL_FMAF(p, r, 1.6666665459e-1f);
    p = FL_FMAF(p, r, 5.0000001201e-1f);
    *t_out = t;
    *kf_out = kf;
    return FL_FMAF(p, r * r, r) + 1.0f;
}

FL_MATH_INLINE double fl_exp_core(double x, double *t_out, double *kf_out)
{
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    double t = FL_FMA(x, 1.4426950408889634074, magic);
    double kf = t - magic;
    double r = FL_FMA(kf, -6.93147180369123816490e-01, x);  /* ln2 hi (fdlibm) */
    r = FL_FMA(kf, -1.90821492927058770002e-10, r);         /* ln2 lo */
    /* Taylor series to degree 13 on |r| <= 0.3466: truncation < 5e-18 relative. */
    double p = 1.0 / 6227020800.0;
    p = FL_FMA(p, r, 1.0 / 479001600.0);
    p = FL_FMA(p, r, 1.0 / 39916800.0);
    p = FL_FMA(p, r, 1.0 / 3628800.0);
    p = FL_FMA(p, r, 1.0 / 362880.0);
    p = FL_FMA(p, r, 1.0 / 40320.0);
    p = FL_FMA(p, r, 1.0 / 5040.0);
    p = FL_FMA(p, r, 1.0 / 720.0);
    p = FL_FMA(p, r, 1.0 / 120.0);
    p = FL_FMA(p, r, 1.0 / 24.0);
    p = FL_FMA(p, r, 1.0 / 6.0);
    p = FL_FMA(p, r, 0.5);
    *t_out = t;
    *kf_out = kf;
    return FL_FMA(p, r * r, r) + 1.0;
}

FL_MATH_INLINE float fl_expf(float x)
{
    const float magic = 12582912.0f;
    x = x > 100.0f ? 100.0f : x;
    x = x < -110.0f ? -110.0f : x;
    float t, kf;
    float p = fl_expf_core(x, &t, &kf);
    float t1 = kf * 0.5f + magic;        /* k1 = round(k / 2) */
    float k1f = t1 - magic;
    float t2 = (kf - k1f) + magic;       /* k2 = k - k1 */
    float s1 = fl_f32_from_bits((fl_f32_bits(t1) - fl_f32_bits(magic) + 127) << 23);
    float s2 = fl_f32_from_bits((fl_f32_bits(t2) - fl_f32_bits(magic) + 127) << 23);
    return (p * s1) * s2;
}

FL_MATH_INLINE double fl_exp(double x)
{
    const double magic = 6755399441055744.0;
    x = x > 800.0 ? 800.0 : x;
    x = x < -800.0 ? -800.0 : x;
    double t, kf;
    double p = fl_exp_core(x, &t, &kf);
    double t1 = kf * 0.5 + magic;
    double k1f = t1 - magic;
    double t2 = (kf - k1f) + magic;
    double s1 = fl_f64_from_bits((fl_f64_bits(t1) - fl_f64_bits(magic) + 1023) << 52);
    double s2 = fl_f64_from_bits((fl_f64_bits(t2) - fl_f64_bits(magic) + 1023) << 52);
    return (p * s1) * s2;
}

/* exp(x) for x <= 0 (or -inf, NaN), as the softmax passes need it (x - max): results
 * from 2^-126 * exp(r) upward are rounded once as in fl_expf, so they keep its bound of
 * 1 ulp, subnormal ones included; x below -126.5 ln2 (about -87.68; float64: -1022.5 ln2,
 * about -708.75), whose exact result is below 8.5e-39 (float64: 2.8e-308), gives 0.
 * One scale factor 2^k instead of fl_expf's two and no clamp: a third fewer
 * instructions in the loop that dominates cross-entropy.  Not for x > 0.  The exponent
 * arithmetic is unsigned: for flushed x it is out of range (masked), without signed
 * overflow. */
FL_MATH_INLINE float fl_expf_nonpos(float x)
{
    float t, kf;
    float p = fl_expf_core(x, &t, &kf);
    float s = fl_f32_from_bits((int32_t)(((uint32_t)fl_f32_bits(t) - (uint32_t)fl_f32_bits(12582912.0f)
                                          + 127u) << 23));
    float y = p * s;
    return kf < -126.0f ? 0.0f : y;
}

FL_MATH_INLINE double fl_exp_nonpos(double x)
{
    double t, kf;
    double p = fl_exp_core(x, &t, &kf);
    double s = fl_f64_from_bits((int64_t)(((uint64_t)fl_f64_bits(t) -
                                           (uint64_t)fl_f64_bits(6755399441055744.0) + 1023u) << 52));
    double y = p * s;
    return kf < -1022.0 ? 0.0 : y;
}

/* ---------------------------------------------------------------- log ---------- */
/* log(x) = k*ln2 + log(m), m in [sqrt(2)/2, sqrt(2)), with fdlibm's
 * log(1+f) = f - f^2/2 + s*(f^2/2 + R(s^2)), s = f/(2+f).  Subnormal x is scaled by
 * 2^24 (2^54) first; x < 0 or NaN gives NaN, 0 gives -inf, +inf gives +inf. */
/* The core: log(x * 2^-ksub) for positive, normal, finite x. */
FL_MATH_INLINE float fl_logf_core(float x, int32_t ksub)
{
    int32_t ix = fl_f32_bits(x);
    /* m = mantissa scaled to [sqrt(2)/2, sqrt(2)): add (1 - sqrt(2)/2) to the bits */
    ix += 0x3f800000 - 0x3f3504f3;
    int32_t k = (ix >> 23) - 127 - ksub;
    ix = (ix & 0x007fffff) + 0x3f3504f3;
    float f = fl_f32_from_bits(ix) - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s;
    float w = z * z;
    float t1 = w * FL_FMAF(w, 0.24279078841f, 0.40000972152f);
    float t2 = z * FL_FMAF(w, 0.28498786688f, 0.66666662693f);
    float R = t2 + t1;
    float hfsq = 0.5f * f * f;
    float kf = (float)k;
    return s * (hfsq + R) + kf * 9.0580006145e-06f - hfsq + f + kf * 6.9313812256e-01f;
}

/* log(x) for x positive, normal and finite, where a caller knows it (fl_log1p_unitf):
 * fl_logf without its special cases; other x give garbage, not NaN. */
FL_MATH_INLINE float fl_logf_pos(float x) { return fl_logf_core(x, 0); }

FL_MATH_INLINE float fl_logf(float x)
{
    float xin = x;
    int32_t sub = x < 1.17549435e-38f;  /* subnormal, zero, negative */
    x = sub ? x * 16777216.0f : x;
    float r = fl_logf_core(x, sub ? 24 : 0);
    r = xin == 0.0f ? -__builtin_inff() : r;
    r = xin < 0.0f ? __builtin_nanf("") : r;
    r = xin == __builtin_inff() ? xin : r;
    r = xin != xin ? xin : r;
    return r;
}

FL_MATH_INLINE double fl_log_core(double x, int64_t ksub)
{
    int64_t ix = fl_f64_bits(x);
    ix += 0x3ff0000000000000LL - 0x3fe6a09e667f3bcdLL;
    /* k as a double without an int64 -> double conversion (AVX-512DQ only): add the
     * biased exponent to the bits of 1.5 * 2^52 and subtract that number.  The shift is
     * logical (x < 0 gives garbage here, replaced by NaN in fl_log). */
    int64_t kb = (int64_t)((uint64_t)ix >> 52) - 1023 - ksub;
    double kf = fl_f64_from_bits(fl_f64_bits(6755399441055744.0) + kb) - 6755399441055744.0;
    ix = (ix & 0x000fffffffffffffLL) + 0x3fe6a09e667f3bcdLL;
    double f = fl_f64_from_bits(ix) - 1.0;
    double s = f / (2.0 + f);
    double z = s * s;
    double w = z * z;
    double t1 = w * FL_FMA(w, FL_FMA(w, 1.531383769920937332e-01, 2.222219843214978396e-01), 3.999999999940941908e-01);
    double t2 = z * FL_FMA(w, FL_FMA(w, FL_FMA(w, 1.479819860511658591e-01, 1.818357216161805012e-01), 2.857142874366239149e-01), 6.666666666666735130e-01);
    double R = t2 + t1;
    double hfsq = 0.5 * f * f;
    return s * (hfsq + R) + kf * 1.90821492927058770002e-10 - hfsq + f + kf * 6.93147180369123816490e-01;
}

FL_MATH_INLINE double fl_log_pos(double x) { return fl_log_core(x, 0); }

FL_MATH_INLINE double fl_log(double x)
{
    double xin = x;
    int64_t sub = x < 2.2250738585072014e-308;
    x = sub ? x * 18014398509481984.0 : x;   /* 2^54 */
    double r = fl_log_core(x, sub ? 54 : 0);
    r = xin == 0.0 ? -__builtin_inf() : r;
    r = xin < 0.0 ? __builtin_nan("") : r;
    r = xin == __builtin_inf() ? xin : r;
    r = xin != xin ? xin : r;
    return r;
}

/* log1p(x) = log(u) + (x - (u - 1)) / u with u = 1 + x rounded: the second term is the
 * first-order correction for the rounding of u (exact to the needed order).  For
 * |x| < eps/2 u == 1 and the result is x/1 = x. */
FL_MATH_INLINE float fl_log1pf(float x)
{
    float u = 1.0f + x;
    float c = (x - (u - 1.0f)) / u;
    c = (u == __builtin_inff() || u == 0.0f) ? 0.0f : c;
    float r = fl_logf(u) + c;
    return u == 1.0f ? x : r;  /* keeps the sign of -0 and full accuracy for tiny x */
}

FL_MATH_INLINE double fl_log1p(double x)
{
    double u = 1.0 + x;
    double c = (x - (u - 1.0)) / u;
    c = (u == __builtin_inf() || u == 0.0) ? 0.0 : c;
    double r = fl_log(u) + c;
    return u == 1.0 ? x : r;
}

/* log1p(e) for e in [0, 1] (or NaN), as softplus needs it: u = 1 + e lies in [1, 2], so
 * none of fl_log1pf's special cases arise, and dropping their selects matters: GCC 12 does
 * not vectorize a loop over fl_log1pf(fl_expf(...)), but does this one.  For e < eps/2,
 * u = 1 and the result is the correction term e / 1 = e, exact. */
FL_MATH_INLINE float fl_log1p_unitf(float e)
{
    float u = 1.0f + e;
    return fl_logf_pos(u) + (e - (u - 1.0f)) / u;   /* NaN e: the second term is NaN */
}

FL_MATH_INLINE double fl_log1p_unit(double e)
{
    double u = 1.0 + e;
    return fl_log_pos(u) + (e - (u - 1.0)) / u;
}

/* softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|): never overflows.
 * fl_sp_parts also returns e = e^-|x| so that a caller can form sigmoid from it. */
FL_MATH_INLINE float fl_softplusf(float x)
{
    float ax = x < 0.0f ? -x : x;
    float mx = x > 0.0f ? x : 0.0f;
    return mx + fl_log1p_unitf(fl_expf(-ax));
}

FL_MATH_INLINE double fl_softplus(double x)
{
    double ax = x < 0.0 ? -x : x;
    double mx = x > 0.0 ? x : 0.0;
    return mx + fl_log1p_unit(fl_exp(-ax));
}

/* sigmoid(x) = 1/(1+e^-x) for x >= 0, e^x/(1+e^x) for x < 0: both forms use
 * e = e^-|x| <= 1, so neither overflows and tiny results keep full relative accuracy. */
FL_MATH_INLINE float fl_sigmoidf(float x)
{
    float ax = x < 0.0f ? -x : x;
    float e = fl_expf(-ax);
    float r = 1.0f / (1.0f + e);
    return x < 0.0f ? e * r : r;
}

FL_MATH_INLINE double fl_sigmoid(double x)
{
    double ax = x < 0.0 ? -x : x;
    double e = fl_exp(-ax);
    double r = 1.0 / (1.0 + e);
    return x < 0.0 ? e * r : r;
}

#endif /* FL_MATH_H */
