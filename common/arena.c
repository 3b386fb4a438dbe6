/*
 * arena.c - bump allocator for per-thread scratch memory.
 *
 * One heap block per arena, obtained at setup time; allocation is a
 * pointer bump rounded to ARENA_ALIGN, release is resetting the bump
 * pointer.  Overflow aborts: the capacity was computed by a size helper
 * before the loop, so running out means that helper or its caller is
 * wrong, and a silent heap fallback would hide an allocation in the loop.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "err.h"
#include "banned.h"

static atomic_ulong heap_allocs;

void *arena_heap_alloc(size_t bytes)
{
    atomic_fetch_add(&heap_allocs, 1);
    return xmalloc(bytes ? bytes : 1);
}

void *arena_heap_calloc(size_t count, size_t size)
{
    atomic_fetch_add(&heap_allocs, 1);
    if (count == 0 || size == 0)
        return xcalloc(1, 1);
    return xcalloc(count, size);
}

unsigned long arena_heap_allocs(void)
{
    return atomic_load(&heap_allocs);
}

size_t arena_round(size_t bytes)
{
    return (bytes + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
}

void arena_init(arena *a, size_t bytes)
{
    memset(a, 0, sizeof *a);
    a->cap = arena_round(bytes);
    a->raw = arena_heap_alloc(a->cap + ARENA_ALIGN);
    uintptr_t p = (uintptr_t)a->raw;
    p = (p + (ARENA_ALIGN - 1)) & ~(uintptr_t)(ARENA_ALIGN - 1);
    a->base = (unsigned char *)p;
}

void arena_free(arena *a)
{
    free(a->raw);
    memset(a, 0, sizeof *a);
}

void *arena_alloc(arena *a, size_t bytes)
{
    size_t need = arena_round(bytes);
    if (need < bytes || need > a->cap - a->used) {
        fprintf(stderr,
                "arena: allocation of %zu bytes does not fit (capacity %zu, in use %zu): "
                "the workspace size helper is wrong for this call\n",
                bytes, a->cap, a->used);
        abort();
    }
    void *p = a->base + a->used;
    a->used += need;
    if (a->used > a->peak)
        a->peak = a->used;
    return p;
}

float *arena_floats(arena *a, size_t n)
{
    return arena_alloc(a, n * sizeof(float));
}

float *arena_zfloats(arena *a, size_t n)
{
    float *p = arena_alloc(a, n * sizeof(float));
    memset(p, 0, n * sizeof(float));
    return p;
}

double *arena_doubles(arena *a, size_t n)
{
    return arena_alloc(a, n * sizeof(double));
}

size_t arena_mark(const arena *a)
{
    return a->used;
}

void arena_release(arena *a, size_t mark)
{
    if (mark <= a->used)
        a->used = mark;
}

void arena_reset(arena *a)
{
    a->used = 0;
}
