/*
 * arena.h - per-thread scratch arenas, sized up front and reset per batch.
 *
 * Training loops must not call malloc: every temporary (layer activations,
 * deltas, R-operator buffers, adapted MAML parameters) comes from an arena
 * whose capacity the caller computes before the loop with the *_bytes()
 * helpers of nn.h and maml.h.  An allocation that does not fit is a
 * programming error (the size helper is wrong, or the caller passed a
 * bigger batch than it sized for): arena_alloc prints what was asked and
 * what was left and calls abort(), so the bug is found at once instead of
 * silently falling back to the heap.
 *
 * The nn modules (arena, nn, nn_embed, nn_optim, maml, pool) make every
 * heap allocation through arena_heap_alloc(), which counts them.  A test
 * asserts "no malloc in the loop" by reading arena_heap_allocs() before and
 * after the loop.
 *
 * Allocations are aligned to ARENA_ALIGN bytes (a cache line, and enough
 * for any vector load OpenBLAS makes).  An arena is used by one thread.
 */
#ifndef RECSTAGE_ARENA_H
#define RECSTAGE_ARENA_H

#include <stddef.h>

#define ARENA_ALIGN 64

typedef struct arena {
    unsigned char *raw;  /* the heap block (base rounded down) */
    unsigned char *base; /* (cap) bytes, ARENA_ALIGN-aligned */
    size_t cap;          /* capacity in bytes */
    size_t used;         /* bytes handed out since the last reset */
    size_t peak;         /* largest `used` seen: check sizing in tests */
} arena;

/* Allocate the arena's block once (counted by arena_heap_allocs). bytes
 * may be 0: then every non-empty allocation aborts. */
void arena_init(arena *a, size_t bytes);
/* Release the block; the arena becomes empty.  Safe on a zeroed arena. */
void arena_free(arena *a);

/* bytes rounded up to ARENA_ALIGN: what one arena_alloc(bytes) consumes.
 * Size helpers add these up. */
size_t arena_round(size_t bytes);

/* Hand out `bytes` (uninitialised, aligned).  Aborts with a message when
 * the arena is too small; never returns NULL.  A zero-byte request returns
 * a valid pointer that must not be dereferenced. */
void *arena_alloc(arena *a, size_t bytes);
float *arena_floats(arena *a, size_t n);   /* n floats, uninitialised */
float *arena_zfloats(arena *a, size_t n);  /* n floats set to 0 */
double *arena_doubles(arena *a, size_t n); /* n doubles, uninitialised */

/* Stack discipline: arena_mark returns the current position; arena_release
 * frees everything allocated after it.  arena_reset frees everything. */
size_t arena_mark(const arena *a);
void arena_release(arena *a, size_t mark);
void arena_reset(arena *a);

/* Heap allocation for the nn modules: xmalloc plus a process-wide counter
 * (atomic, so worker threads may allocate at setup time). */
void *arena_heap_alloc(size_t bytes);
void *arena_heap_calloc(size_t count, size_t size);
/* Number of arena_heap_* calls since the program started. */
unsigned long arena_heap_allocs(void);

#endif
