/*
 * test_hmap.c - the string hash table and the 64-bit hash set, against a
 * brute-force reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hmap.h"
#include "rng.h"
#include "banned.h"

int main(void)
{
    hmap *h = hmap_new(4);
    enum { N = 50000 };
    char key[32];
    int added;
    for (int i = 0; i < N; i++) {
        int len = snprintf(key, sizeof key, "member-%d", i * 7);
        hmap_put(h, key, (size_t)len, i, &added);
        if (!added)
            check(0, "new key %s reported as present", key);
    }
    check(hmap_size(h) == N, "size after inserts (%zu)", hmap_size(h));
    int wrong = 0;
    for (int i = 0; i < N; i++) {
        int len = snprintf(key, sizeof key, "member-%d", i * 7);
        int64_t *v = hmap_get(h, key, (size_t)len);
        wrong += !v || *v != i;
        len = snprintf(key, sizeof key, "member-%d", i * 7 + 1);
        wrong += hmap_get(h, key, (size_t)len) != NULL;
    }
    check(wrong == 0, "every key found with its value, no absent key found (%d wrong)", wrong);
    int64_t *v = hmap_put(h, "member-0", 8, 99, &added);
    check(!added && *v == 0, "existing key keeps its value");
    check(hmap_get(h, "", 0) == NULL, "empty key absent");
    hmap_put(h, "", 0, 5, &added);
    check(added && *hmap_get(h, "", 0) == 5, "empty key stored");
    check(hmap_get(h, "a\0b", 3) == NULL && (hmap_put(h, "a\0b", 3, 1, &added), hmap_get(h, "a", 1) == NULL),
          "keys are byte strings, NUL included");
    hmap_free(h);

    hset64 s;
    hset64_init(&s);
    rng r;
    rng_init(&r, 1, 0);
    int dup = 0;
    for (int i = 0; i < N; i++)
        dup += !hset64_add(&s, rng_u64(&r));
    check(dup == 0 && s.size == N, "random hashes all new");
    rng_init(&r, 1, 0);
    for (int i = 0; i < N; i++)
        dup += hset64_add(&s, rng_u64(&r));
    check(dup == 0, "the same hashes all present");
    check(hset64_add(&s, 0) == 1 && hset64_add(&s, 0) == 0, "zero hash handled");
    hset64_free(&s);
    return check_done("test_hmap");
}
