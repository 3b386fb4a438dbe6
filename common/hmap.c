/*
 * hmap.c - open-addressing string hash table and 64-bit hash set.
 *
 * Capacity is a power of two kept at most half full; keys live in one
 * growing byte arena so an insert costs no separate allocation.
 */
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "err.h"
#include "rng.h"
#include "banned.h"

typedef struct slot {
    uint64_t hash;  /* 0: empty */
    size_t key_off; /* into keys */
    size_t key_len;
    int64_t value;
} slot;

struct hmap {
    slot *slots;
    size_t cap, size;
    char *keys;
    size_t keys_len, keys_cap;
};

static uint64_t key_hash(const char *key, size_t len)
{
    uint64_t h = hash64(key, len, 0x686d6170);
    return h ? h : 1;
}

hmap *hmap_new(size_t expected)
{
    hmap *h = xcalloc(1, sizeof *h);
    size_t cap = 16;
    while (cap < 2 * expected)
        cap *= 2;
    h->cap = cap;
    h->slots = xcalloc(cap, sizeof *h->slots);
    h->keys_cap = 256;
    h->keys = xmalloc(h->keys_cap);
    return h;
}

void hmap_free(hmap *h)
{
    if (!h)
        return;
    free(h->slots);
    free(h->keys);
    free(h);
}

size_t hmap_size(const hmap *h)
{
    return h->size;
}

static slot *find(const hmap *h, uint64_t hash, const char *key, size_t len)
{
    size_t mask = h->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        slot *s = &h->slots[i];
        if (s->hash == 0)
            return s;
        if (s->hash == hash && s->key_len == len && memcmp(h->keys + s->key_off, key, len) == 0)
            return s;
    }
}

int64_t *hmap_get(const hmap *h, const char *key, size_t len)
{
    slot *s = find(h, key_hash(key, len), key, len);
    return s->hash ? &s->value : NULL;
}

static void grow(hmap *h)
{
    slot *old = h->slots;
    size_t oldcap = h->cap;
    h->cap *= 2;
    h->slots = xcalloc(h->cap, sizeof *h->slots);
    size_t mask = h->cap - 1;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].hash)
            continue;
        size_t j = old[i].hash & mask;
        while (h->slots[j].hash)
            j = (j + 1) & mask;
        h->slots[j] = old[i];
    }
    free(old);
}

int64_t *hmap_put(hmap *h, const char *key, size_t len, int64_t value, int *added)
{
    if (2 * (h->size + 1) > h->cap)
        grow(h);
    uint64_t hash = key_hash(key, len);
    slot *s = find(h, hash, key, len);
    if (s->hash) {
        if (added)
            *added = 0;
        return &s->value;
    }
    if (h->keys_len + len > h->keys_cap) {
        while (h->keys_len + len > h->keys_cap)
            h->keys_cap *= 2;
        h->keys = xrealloc(h->keys, h->keys_cap);
    }
    memcpy(h->keys + h->keys_len, key, len);
    s->hash = hash;
    s->key_off = h->keys_len;
    s->key_len = len;
    s->value = value;
    h->keys_len += len;
    h->size++;
    if (added)
        *added = 1;
    return &s->value;
}

void hset64_init(hset64 *s)
{
    s->cap = 0;
    s->size = 0;
    s->slots = NULL;
}

void hset64_free(hset64 *s)
{
    free(s->slots);
    hset64_init(s);
}

static int hset_insert(uint64_t *slots, size_t cap, uint64_t h)
{
    size_t mask = cap - 1;
    for (size_t i = mix64(h) & mask;; i = (i + 1) & mask) {
        if (slots[i] == h)
            return 0;
        if (slots[i] == 0) {
            slots[i] = h;
            return 1;
        }
    }
}

int hset64_has(const hset64 *s, uint64_t h)
{
    if (h == 0)
        h = 1;
    if (!s->cap)
        return 0;
    size_t mask = s->cap - 1;
    for (size_t i = mix64(h) & mask;; i = (i + 1) & mask) {
        if (s->slots[i] == h)
            return 1;
        if (s->slots[i] == 0)
            return 0;
    }
}

int hset64_add(hset64 *s, uint64_t h)
{
    if (h == 0)
        h = 1;
    if (2 * (s->size + 1) > s->cap) {
        size_t ncap = s->cap ? 2 * s->cap : 1024;
        uint64_t *n = xcalloc(ncap, sizeof *n);
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i])
                hset_insert(n, ncap, s->slots[i]);
        free(s->slots);
        s->slots = n;
        s->cap = ncap;
    }
    int added = hset_insert(s->slots, s->cap, h);
    s->size += (size_t)added;
    return added;
}
