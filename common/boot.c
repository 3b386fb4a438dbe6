/*
 * boot.c - summaries of bootstrap replicates and the normal quantile
 * (boot.h).
 */
#include "boot.h"

#include <math.h>
#include <stdlib.h>

#include "banned.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Type 7 quantile of sorted v[0..n). */
static double quantile(const double *v, int n, double p)
{
    double h = (n - 1) * p;
    int lo = (int)floor(h);
    if (lo >= n - 1)
        return v[n - 1];
    return v[lo] + (h - lo) * (v[lo + 1] - v[lo]);
}

/* Bootstrap summary of replicates rep[0..B) (NaN ones dropped): the
 * standard deviation and the percentile interval. */
void boot_summary(double *rep, int B, double level, double *sd, double *lo, double *hi)
{
    int m = 0;
    for (int b = 0; b < B; b++)
        if (!isnan(rep[b]))
            rep[m++] = rep[b];
    *sd = *lo = *hi = NAN;
    if (m < 2)
        return;
    double mean = 0, ss = 0;
    for (int b = 0; b < m; b++)
        mean += rep[b];
    mean /= m;
    for (int b = 0; b < m; b++)
        ss += (rep[b] - mean) * (rep[b] - mean);
    *sd = sqrt(ss / (m - 1));
    qsort(rep, (size_t)m, sizeof *rep, cmp_double);
    *lo = quantile(rep, m, (1 - level) / 2);
    *hi = quantile(rep, m, (1 + level) / 2);
}

/* Inverse of the standard normal distribution function (Acklam's
 * rational approximation, relative error below 1.2e-9). */
double boot_norm_quantile(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01,  -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549671010115819e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - 0.02425)
        return -boot_norm_quantile(1 - p);
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

