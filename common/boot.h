/*
 * boot.h - what the estimators (smis-ope, replay-eval) share about
 * intervals: the summary of bootstrap replicates (standard deviation and
 * percentile interval, linear interpolation between order statistics)
 * and the standard normal quantile for normal intervals.
 */
#ifndef RECSTAGE_BOOT_H
#define RECSTAGE_BOOT_H

/* Replicates rep[0..B) (NaN ones dropped; rep is reordered): *sd their
 * standard deviation, [*lo, *hi] the percentile interval at level; all
 * NaN with fewer than two replicates. */
void boot_summary(double *rep, int B, double level, double *sd, double *lo, double *hi);
/* The p quantile of the standard normal distribution, 0 < p < 1
 * (Acklam's rational approximation, relative error below 1.2e-9). */
double boot_norm_quantile(double p);

#endif
