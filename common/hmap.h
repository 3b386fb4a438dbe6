/*
 * hmap.h - a string-keyed hash table (open addressing, linear probing).
 *
 * Used for joins (member id -> embedding row), group checks and column
 * lookups.  Keys are byte strings copied into the table's own storage;
 * values are 64-bit integers (an index into the caller's arrays, usually).
 * Also hset64, a set of 64-bit hashes for detecting keys seen before in
 * grouped streams (no key copies: 16-32 bytes a key, the table kept at
 * most half full).
 */
#ifndef RECSTAGE_HMAP_H
#define RECSTAGE_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hmap hmap;

hmap *hmap_new(size_t expected);
void hmap_free(hmap *h);
size_t hmap_size(const hmap *h);
/* Pointer to the value of key, or NULL when absent. */
int64_t *hmap_get(const hmap *h, const char *key, size_t len);
/* Insert key with value if absent; returns a pointer to the stored value
 * and sets *added to 1 if it was inserted (0 if it existed already). */
int64_t *hmap_put(hmap *h, const char *key, size_t len, int64_t value, int *added);

typedef struct hset64 {
    uint64_t *slots; /* 0 marks an empty slot; a hash of 0 is stored as 1 */
    size_t cap, size;
} hset64;

void hset64_init(hset64 *s);
void hset64_free(hset64 *s);
/* Insert h; returns 1 if it was new, 0 if present already. */
int hset64_add(hset64 *s, uint64_t h);
/* 1 if h is present. */
int hset64_has(const hset64 *s, uint64_t h);

#endif
