/* strmap.h: a hash table from strings to indexes, for lookups by name over reports that
 * may hold any number of suites, properties and values.
 *
 * The table borrows its keys: each must stay valid and unchanged while the table lives.
 * mr_strmap_free() frees the table only. Keys are hashed with SipHash-2-4 under a key
 * drawn at random once per process, so names chosen to collide cannot make lookups
 * slow. */
#ifndef MR_STRMAP_H
#define MR_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct mr_strmap;

struct mr_strmap *mr_strmap_new(void);
void mr_strmap_free(struct mr_strmap *m);

/* The number of keys. */
size_t mr_strmap_size(const struct mr_strmap *m);

/* Returns 1 and the key's value in *ret_value (when not NULL) if the key is there,
 * else 0. */
int mr_strmap_get(const struct mr_strmap *m, const char *key, size_t *ret_value);

/* Adds key with value when the key is not there yet and returns 1; else returns 0 and
 * the value stored before in *ret_value (when not NULL), leaving it unchanged. */
int mr_strmap_add(struct mr_strmap *m, const char *key, size_t value, size_t *ret_value);

/* SipHash-2-4 of len bytes under a 16-byte key (Aumasson and Bernstein's reference
 * function, checked against its test vectors). */
uint64_t mr_siphash24(const void *data, size_t len, const uint8_t key[16]);

#endif
