/*
 * rec_num.c - strict number parsing and shortest round-trip printing.
 *
 * Parsing validates the syntax itself ([+-]digits[.digits][(e|E)[+-]digits],
 * at least one digit) so that strtod's extensions (hex, inf, nan, leading
 * spaces) are refused, then computes the value.  Common short decimals take
 * Clinger's fast path: when the digits form an integer M < 2^53 and the
 * decimal exponent q has |q| <= 22, both M and 10^|q| are exact doubles and
 * one IEEE multiply or divide is correctly rounded (Clinger, "How to read
 * floating point numbers accurately", PLDI 1990).  Everything else goes to
 * strtod/strtof, which are correctly rounded.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rec.h"
#include "banned.h"

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

typedef struct decimal {
    int neg;
    uint64_t mant;   /* first up to 19 significant digits */
    int ndigits;     /* significant digits (leading zeros dropped) */
    int truncated;   /* more than 19 significant digits */
    long exp10;      /* value = mant * 10^exp10 (when not truncated) */
    int is_integer;  /* canonical integer syntax: 0 or -?[1-9][0-9]* */
    /* the layout, for canonical_g */
    int plus, int_len, first_digit, has_point, frac_len, frac_trailing_zero, frac_leading_zeros;
    int has_exp, exp_upper, exp_signed, exp_ndigits, exp_lead_zero;
    long exp_value;
} decimal;

/* Scan s[0..len) as a decimal; 0 on valid syntax.  Locals rather than
 * d's fields in the loops: s is a char pointer, which may alias d, so the
 * compiler would otherwise store d after every digit. */
static int scan_decimal(const char *s, size_t len, decimal *d)
{
    const char *p = s, *end = s + len;
    int neg = 0;
    d->plus = p < end && *p == '+';
    if (p < end && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
    }
    uint64_t mant = 0;
    int nd = 0;        /* significant digits seen (from the first nonzero) */
    int truncated = 0;
    long dropped = 0;  /* integer digits beyond 19: raise the exponent */
    long frac = 0;     /* fraction digits taken into mant (or skipped as leading zeros) */
    const char *int_start = p;
    while (p < end && (unsigned)(*p - '0') < 10) {
        unsigned c = (unsigned)(*p - '0');
        if (nd < 19) {
            mant = mant * 10 + c;
        } else {
            truncated |= c != 0;
            dropped++;
        }
        nd += mant != 0;
        p++;
    }
    size_t int_len = (size_t)(p - int_start);
    d->int_len = (int)int_len;
    d->first_digit = int_len ? int_start[0] : 0;
    int has_point = 0;
    const char *frac_start = p;
    if (p < end && *p == '.') {
        has_point = 1;
        p++;
        frac_start = p;
        while (p < end && (unsigned)(*p - '0') < 10) {
            unsigned c = (unsigned)(*p - '0');
            if (nd < 19) {
                mant = mant * 10 + c;
                frac++;
            } else {
                truncated |= c != 0;
            }
            nd += mant != 0;
            p++;
        }
    }
    if (int_len == 0 && (!has_point || p == frac_start))
        return -1;
    d->has_point = has_point;
    d->frac_len = has_point ? (int)(p - frac_start) : 0;
    d->frac_trailing_zero = d->frac_len > 0 && p[-1] == '0';
    if (has_point) {
        const char *z = frac_start;
        while (z < p && *z == '0')
            z++;
        d->frac_leading_zeros = (int)(z - frac_start);
    } else {
        d->frac_leading_zeros = 0;
    }
    long e = 0;
    int has_exp = 0;
    d->exp_upper = d->exp_signed = d->exp_ndigits = d->exp_lead_zero = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        has_exp = 1;
        d->exp_upper = *p == 'E';
        p++;
        int eneg = 0;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            d->exp_signed = 1;
            p++;
        }
        if (p == end || (unsigned)(*p - '0') >= 10)
            return -1;
        const char *estart = p;
        d->exp_lead_zero = *p == '0';
        while (p < end && (unsigned)(*p - '0') < 10) {
            if (e < 100000)
                e = e * 10 + (*p - '0');
            p++;
        }
        if (eneg)
            e = -e;
        d->exp_ndigits = (int)(p - estart);
    }
    if (p != end)
        return -1;
    d->has_exp = has_exp;
    d->exp_value = e;
    d->neg = neg;
    d->mant = mant;
    d->truncated = truncated;
    d->ndigits = nd ? nd : 1; /* zero has one digit */
    d->exp10 = e + dropped - frac;
    d->is_integer = !has_point && !has_exp && s[0] != '+' && (int_len == 1 || int_start[0] != '0') &&
                    !(neg && mant == 0);
    return 0;
}

static int reject(const char *s, size_t len, errctx *e)
{
    if (len == 0)
        return err_set(e, "missing value");
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (strncasecmp(p, "nan", 3) == 0 || strncasecmp(p, "inf", 3) == 0)
        return err_set(e, "cannot parse '%.*s' as a number: NaN and Inf are not accepted",
                       (int)(len > 64 ? 64 : len), s);
    return err_set(e, "cannot parse '%.*s%s' as a number", (int)(len > 64 ? 64 : len), s,
                   len > 64 ? "..." : "");
}

/* Correctly rounded double of a scanned decimal, via the fast path when
 * exact, else strtod. */
static int decimal_to_double(const char *s, const decimal *d, double *out)
{
    if (!d->truncated && d->mant < (1ULL << 53) && d->exp10 >= -22 && d->exp10 <= 22) {
        double v = (double)d->mant;
        v = d->exp10 >= 0 ? v * pow10_tab[d->exp10] : v / pow10_tab[-d->exp10];
        *out = d->neg ? -v : v;
        return 0;
    }
    errno = 0;
    double v = strtod(s, NULL);
    if (!isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int rec_parse_f64(const char *s, size_t len, double *out, errctx *e)
{
    decimal d;
    if (len == 0 || scan_decimal(s, len, &d) < 0)
        return reject(s, len, e);
    if (decimal_to_double(s, &d, out) < 0)
        return err_set(e, "number '%.*s' is out of range", (int)(len > 64 ? 64 : len), s);
    return 0;
}

/* Float via the double fast path, unless the double sits exactly halfway
 * between two floats (where rounding twice could differ from rounding the
 * decimal once) or in the subnormal range: then strtof. */
static int decimal_to_float(const char *s, const decimal *d, float *out)
{
    double v;
    if (!d->truncated && d->mant < (1ULL << 53) && d->exp10 >= -22 && d->exp10 <= 22) {
        v = (double)d->mant;
        v = d->exp10 >= 0 ? v * pow10_tab[d->exp10] : v / pow10_tab[-d->exp10];
        if (d->neg)
            v = -v;
        double a = fabs(v);
        if (a == 0 || (a >= FLT_MIN && a <= FLT_MAX)) {
            uint64_t bits;
            memcpy(&bits, &v, sizeof bits);
            if ((bits & 0x1fffffffULL) != 0x10000000ULL) {
                *out = (float)v;
                return 0;
            }
        }
    }
    errno = 0;
    float f = strtof(s, NULL);
    if (!isfinite(f))
        return -1;
    *out = f;
    return 0;
}

int rec_parse_f32(const char *s, size_t len, float *out, errctx *e)
{
    decimal d;
    if (len == 0 || scan_decimal(s, len, &d) < 0)
        return reject(s, len, e);
    if (decimal_to_float(s, &d, out) < 0)
        return err_set(e, "number '%.*s' is out of range for float32", (int)(len > 64 ? 64 : len), s);
    return 0;
}

int rec_parse_i64(const char *s, size_t len, int64_t *out, errctx *e)
{
    const char *p = s, *end = s + len;
    int neg = 0;
    if (len == 0)
        return err_set(e, "missing value");
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    if (p == end)
        return err_set(e, "cannot parse '%.*s' as an integer", (int)(len > 64 ? 64 : len), s);
    uint64_t v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return err_set(e, "cannot parse '%.*s' as an integer", (int)(len > 64 ? 64 : len), s);
        uint64_t digit = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return err_set(e, "integer '%.*s' is out of range", (int)(len > 64 ? 64 : len), s);
        v = v * 10 + digit;
    }
    if (!neg && v > (uint64_t)INT64_MAX)
        return err_set(e, "integer '%.*s' is out of range", (int)(len > 64 ? 64 : len), s);
    if (neg && v > (uint64_t)INT64_MAX + 1)
        return err_set(e, "integer '%.*s' is out of range", (int)(len > 64 ? 64 : len), s);
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Is a scanned decimal (not an integer) in the form "%.Pg" prints?  Fixed
 * notation for decimal exponents -4 <= X < P, else d[.ddd]e+XX; no '+'
 * sign, no leading zeros, no trailing zeros in a fraction, 'e' lowercase
 * with a sign and at least two digits. */
static int canonical_g(const decimal *d, int P)
{
    if (d->plus || d->exp_upper || (d->has_point && (d->frac_len == 0 || d->frac_trailing_zero)))
        return 0;
    if (d->has_exp) {
        if (d->int_len != 1 || d->first_digit == '0' || !d->exp_signed || d->exp_ndigits < 2 ||
            (d->exp_ndigits > 2 && d->exp_lead_zero))
            return 0;
        return d->exp_value < -4 || d->exp_value >= P;
    }
    if (d->int_len == 0 || (d->int_len > 1 && d->first_digit == '0'))
        return 0;
    long x;
    if (d->first_digit != '0')
        x = d->int_len - 1;
    else if (!d->has_point)
        return 1; /* "-0" */
    else
        x = -(long)d->frac_leading_zeros - 1;
    return x >= -4 && x < P;
}

unsigned rec_classify(const char *s, size_t len, int64_t *i, float *f, double *dv)
{
    decimal d;
    if (len == 0 || len > 400 || scan_decimal(s, len, &d) < 0)
        return 0;
    if (d.is_integer) {
        if (!d.truncated && d.ndigits < 19) /* fits without overflow checks */
            *i = d.neg ? -(int64_t)d.mant : (int64_t)d.mant;
        else if (rec_parse_i64(s, len, i, NULL) < 0)
            return 0;
        unsigned caps = REC_CAN_I64;
        uint64_t mag = d.neg ? (uint64_t)0 - (uint64_t)*i : (uint64_t)*i;
        char buf[40];
        *f = (float)*i;
        *dv = (double)*i;
        /* below 10^6 (10^15) %.6g (%.15g) prints every digit; above, the
         * value must be exact and print the same */
        if (mag < 1000000 ||
            (mag < (1ULL << 62) && (int64_t)*f == *i &&
             (size_t)rec_format_f32(buf, sizeof buf, *f) == len && memcmp(buf, s, len) == 0))
            caps |= REC_CAN_F32;
        if (mag < 1000000000000000ULL ||
            (mag < (1ULL << 62) && (int64_t)*dv == *i &&
             (size_t)rec_format_f64(buf, sizeof buf, *dv) == len && memcmp(buf, s, len) == 0))
            caps |= REC_CAN_F64;
        return caps;
    }
    if (d.truncated || d.ndigits > 17 || decimal_to_double(s, &d, dv) < 0)
        return 0;
    unsigned caps = 0;
    char buf[40];
    if (d.ndigits <= 9 && decimal_to_float(s, &d, f) == 0) {
        double a = fabs(*dv);
        /* zero only when the digits are (4.9e-3238 underflows to 0) */
        if (d.ndigits <= 6 && ((a == 0 && d.mant == 0) || (a >= FLT_MIN && a <= FLT_MAX))) {
            /* FLT_DIG: in the normal range %.6g gives these digits back */
            if (canonical_g(&d, 6))
                caps |= REC_CAN_F32;
        } else if ((size_t)rec_format_f32(buf, sizeof buf, *f) == len && memcmp(buf, s, len) == 0) {
            caps |= REC_CAN_F32;
        }
    }
    if (d.ndigits <= 15 && ((*dv == 0 && d.mant == 0) || fabs(*dv) >= DBL_MIN)) { /* DBL_DIG, normal range */
        if (canonical_g(&d, 15))
            caps |= REC_CAN_F64;
    } else if ((size_t)rec_format_f64(buf, sizeof buf, *dv) == len && memcmp(buf, s, len) == 0) {
        caps |= REC_CAN_F64;
    }
    return caps;
}

rec_type rec_caps_type(unsigned caps)
{
    return caps & REC_CAN_I64 ? REC_I64 : caps & REC_CAN_F32 ? REC_F32 : caps & REC_CAN_F64 ? REC_F64 : REC_STR;
}

/* The slow, obviously right version: "%.Pg" for P = 6..9 until strtof
 * reads the value back. */
static int format_f32_printf(char *buf, size_t n, float v)
{
    int len = 0;
    for (int prec = 6; prec <= 9; prec++) {
        len = snprintf(buf, n, "%.*g", prec, (double)v);
        if (prec == 9 || strtof(buf, NULL) == v)
            break;
    }
    return len;
}

/* Write the digits of m (p of them, m < 10^p) in %g layout for decimal
 * exponent x and precision p: trailing zeros dropped, scientific when
 * x < -4 or x >= p. */
static int layout_g(char *buf, size_t n, int neg, uint64_t m, int p, int x)
{
    char d[24];
    for (int i = p - 1; i >= 0; i--) {
        d[i] = (char)('0' + m % 10);
        m /= 10;
    }
    int nd = p;
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    char out[48];
    int k = 0;
    if (neg)
        out[k++] = '-';
    if (x < -4 || x >= p) {
        out[k++] = d[0];
        if (nd > 1) {
            out[k++] = '.';
            for (int i = 1; i < nd; i++)
                out[k++] = d[i];
        }
        out[k++] = 'e';
        out[k++] = x < 0 ? '-' : '+';
        int ax = x < 0 ? -x : x;
        if (ax >= 100)
            out[k++] = (char)('0' + ax / 100);
        out[k++] = (char)('0' + ax / 10 % 10);
        out[k++] = (char)('0' + ax % 10);
    } else if (x >= 0) {
        for (int i = 0; i <= x; i++)
            out[k++] = i < nd ? d[i] : '0';
        if (nd > x + 1) {
            out[k++] = '.';
            for (int i = x + 1; i < nd; i++)
                out[k++] = d[i];
        }
    } else {
        out[k++] = '0';
        out[k++] = '.';
        for (int i = 0; i < -x - 1; i++)
            out[k++] = '0';
        for (int i = 0; i < nd; i++)
            out[k++] = d[i];
    }
    out[k] = '\0';
    if ((size_t)k >= n) /* buffers are >= 32 bytes; keep the snprintf contract anyway */
        return snprintf(buf, n, "%s", out);
    memcpy(buf, out, (size_t)k + 1);
    return k;
}

int rec_format_i64(char *buf, size_t n, int64_t v)
{
    char tmp[24];
    int k = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[k++] = '-';
    if ((size_t)k >= n)
        return snprintf(buf, n, "%lld", (long long)v);
    for (int i = 0; i < k; i++)
        buf[i] = tmp[k - 1 - i];
    buf[k] = '\0';
    return k;
}

/* The same result as format_f32_printf, faster: for P = 6..9 round |v| to
 * P significant digits in double arithmetic (|v| 10^(P-1-x) is exact to
 * 2^-53 relative), check that the digits read back to v with the exact
 * Clinger path, and lay them out like printf.  Anything unusual (zero,
 * subnormals, exponents beyond the exact powers of ten, a digit string
 * within rounding error of a tie) takes the printf path. */
/* The fast path: 1 with the digits m (p of them), the decimal exponent xx
 * and the double the text reads as (for |v|) in *back; 0 for the printf
 * path. */
static int f32_fast(float v, uint64_t *mo, int *po, int *xo, double *back)
{
    double a = fabs((double)v);
    if (!(a >= FLT_MIN && a <= FLT_MAX))
        return 0;
    int x = (int)floor(log10(a));
    /* log10 may be off by one next to powers of ten */
    if (x + 1 <= 22 && x + 1 >= -22 && a >= (x + 1 >= 0 ? pow10_tab[x + 1] : 1 / pow10_tab[-(x + 1)]))
        x++;
    for (int p = 6; p <= 9; p++) {
        int k = p - 1 - x; /* scale by 10^k */
        if (k > 22 || k < -22 || x - p + 1 > 22 || x - p + 1 < -22)
            return 0;
        double scaled = k >= 0 ? a * pow10_tab[k] : a / pow10_tab[-k];
        double fl = floor(scaled), frac = scaled - fl;
        if (fabs(frac - 0.5) < 1e-6)
            return 0;
        uint64_t m = (uint64_t)fl + (frac > 0.5);
        int xx = x;
        uint64_t top = (uint64_t)pow10_tab[p];
        if (m >= top) { /* rounded up to 10^p: one more decimal place */
            m /= 10;
            xx++;
        }
        if (m < top / 10)
            return 0;
        int e10 = xx - p + 1;
        if (e10 > 22 || e10 < -22) /* the rounding carried past the exact powers of ten */
            return 0;
        double b = e10 >= 0 ? (double)m * pow10_tab[e10] : (double)m / pow10_tab[-e10];
        /* b is the correctly rounded double of the decimal; (float)b
         * rounds twice, which is safe unless b sits on a float tie */
        uint64_t bits;
        memcpy(&bits, &b, sizeof bits);
        if ((bits & 0x1fffffffULL) == 0x10000000ULL)
            return 0;
        if ((float)b == (float)a || p == 9) {
            *mo = m;
            *po = p;
            *xo = xx;
            *back = b;
            return 1;
        }
    }
    return 0;
}

int rec_format_f32(char *buf, size_t n, float v)
{
    if (v == 0 && n >= 3) /* printf's "%g" of a zero */
        return snprintf(buf, n, "%s", signbit(v) ? "-0" : "0");
    uint64_t m;
    int p, xx;
    double back;
    if (!f32_fast(v, &m, &p, &xx, &back))
        return format_f32_printf(buf, n, v);
    return layout_g(buf, n, v < 0, m, p, xx);
}

double rec_f32_text_value(float v)
{
    if (v == 0 || (fabsf(v) < 16777216.0f && v == (float)(int32_t)v)) /* range before the cast */
        return v; /* zeros and integers print and read back as themselves */
    uint64_t m;
    int p, xx;
    double back;
    if (f32_fast(v, &m, &p, &xx, &back))
        return v < 0 ? -back : back;
    char buf[40];
    format_f32_printf(buf, sizeof buf, v);
    return strtod(buf, NULL);
}

int rec_format_f64(char *buf, size_t n, double v)
{
    int len = 0;
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(buf, n, "%.*g", prec, v);
        if (prec == 17 || strtod(buf, NULL) == v)
            break;
    }
    return len;
}

const char *rec_type_name(rec_type t)
{
    switch (t) {
    case REC_I64:
        return "i64";
    case REC_F32:
        return "f32";
    case REC_F64:
        return "f64";
    case REC_STR:
        return "str";
    }
    return "?";
}
