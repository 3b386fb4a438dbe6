/*
 * rng.h - the seeded random number generator (xoshiro256**).
 *
 * All randomness in recstage flows from --seed through this module.  A
 * generator is initialised from (seed, stream): distinct stream ids give
 * statistically independent sequences (the state is filled by splitmix64
 * from a hash of both), so work item i can draw from stream i and the
 * result does not depend on which thread ran it.
 *
 * Reference: Blackman and Vigna, "Scrambled linear pseudorandom number
 * generators", ACM TOMS 2021.
 */
#ifndef RECSTAGE_RNG_H
#define RECSTAGE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
} rng;

void rng_init(rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_u64(rng *r);
/* Uniform integer in [0, n), unbiased (Lemire's method); n > 0. */
uint64_t rng_below(rng *r, uint64_t n);
/* Uniform double in [0, 1) with 53 random bits. */
double rng_uniform(rng *r);
/* Uniform double in (0, 1): never 0, safe for log(). */
double rng_uniform_pos(rng *r);
double rng_normal(rng *r); /* standard normal (polar method, no cache) */
/* Poisson(lambda), lambda >= 0: inversion below 10, PTRS (Hormann 1993) above. */
uint64_t rng_poisson(rng *r, double lambda);
/* Gamma(shape, 1), shape > 0 (Marsaglia and Tsang 2000). */
double rng_gamma(rng *r, double shape);
/* Beta(a, b) from two gammas. */
double rng_beta(rng *r, double a, double b);
/* Index i with probability w[i] / sum(w); weights >= 0, sum > 0. */
size_t rng_categorical(rng *r, const double *w, size_t n);
/* Fisher-Yates shuffle of n elements of the given size. */
void rng_shuffle(rng *r, void *base, size_t n, size_t size);

/* 64-bit hash of bytes (used for stream ids, hashed IDs and key sets). */
uint64_t hash64(const void *data, size_t len, uint64_t seed);
/* splitmix64 finaliser: a bijective mix of one 64-bit word. */
uint64_t mix64(uint64_t x);

#endif
