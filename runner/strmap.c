/* strmap.c: an open-addressing hash table from borrowed strings to indexes, keyed with
 * SipHash so that hostile names cannot pile up in one probe sequence. */
#define _GNU_SOURCE
#include "strmap.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

struct slot {
    const char *key; /* NULL: empty */
    uint64_t hash;
    size_t value;
};

struct mr_strmap {
    struct slot *slots;
    size_t cap; /* a power of two */
    size_t n;
};

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = ROTL(v[1], 13);
    v[1] ^= v[0];
    v[0] = ROTL(v[0], 32);
    v[2] += v[3];
    v[3] = ROTL(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = ROTL(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = ROTL(v[1], 17);
    v[1] ^= v[2];
    v[2] = ROTL(v[2], 32);
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | p[i];
    return x;
}

static void sip_block(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
}

uint64_t mr_siphash24(const void *data, size_t len, const uint8_t key[16])
{
    const uint8_t *p = data;
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    uint64_t v[4] = { 0x736f6d6570736575ULL ^ k0, 0x646f72616e646f6dULL ^ k1,
                      0x6c7967656e657261ULL ^ k0, 0x7465646279746573ULL ^ k1 };
    size_t whole = len - len % 8;
    for (size_t i = 0; i < whole; i += 8)
        sip_block(v, load_le64(p + i));
    /* The last block: the remaining bytes, and the length's low byte on top. */
    uint64_t last = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        last |= (uint64_t)p[whole + i] << (8 * i);
    sip_block(v, last);
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++)
        sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static uint8_t process_key[16];
static pthread_once_t process_key_once = PTHREAD_ONCE_INIT;

static void process_key_init(void)
{
    if (getrandom(process_key, sizeof(process_key), GRND_NONBLOCK) == sizeof(process_key))
        return;
    /* No entropy yet (early boot): a key an outsider cannot read off the report is
     * enough; the table stays correct whatever the key. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t a = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)getpid() << 48;
    uint64_t b = (uint64_t)(uintptr_t)&ts ^ (uint64_t)(uintptr_t)process_key_init;
    memcpy(process_key, &a, 8);
    memcpy(process_key + 8, &b, 8);
}

static uint64_t hash_key(const char *key)
{
    pthread_once(&process_key_once, process_key_init);
    return mr_siphash24(key, strlen(key), process_key);
}

struct mr_strmap *mr_strmap_new(void)
{
    struct mr_strmap *m = mr_xcalloc(1, sizeof(*m));
    m->cap = 16;
    m->slots = mr_xcalloc(m->cap, sizeof(*m->slots));
    return m;
}

void mr_strmap_free(struct mr_strmap *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m);
}

size_t mr_strmap_size(const struct mr_strmap *m)
{
    return m->n;
}

/* The slot holding key, or the empty slot where it would go (linear probing). */
static struct slot *find(const struct mr_strmap *m, const char *key, uint64_t hash)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        struct slot *s = &m->slots[i];
        if (!s->key || (s->hash == hash && strcmp(s->key, key) == 0))
            return s;
    }
}

/* Doubles the table; at most half full, a probe ends soon at an empty slot. */
static void grow(struct mr_strmap *m)
{
    struct slot *old = m->slots;
    size_t old_cap = m->cap;
    m->cap *= 2;
    m->slots = mr_xcalloc(m->cap, sizeof(*m->slots));
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key)
            *find(m, old[i].key, old[i].hash) = old[i];
    free(old);
}

int mr_strmap_get(const struct mr_strmap *m, const char *key, size_t *ret_value)
{
    const struct slot *s = find(m, key, hash_key(key));
    if (!s->key)
        return 0;
    if (ret_value)
        *ret_value = s->value;
    return 1;
}

int mr_strmap_add(struct mr_strmap *m, const char *key, size_t value, size_t *ret_value)
{
    uint64_t hash = hash_key(key);
    struct slot *s = find(m, key, hash);
    if (s->key) {
        if (ret_value)
            *ret_value = s->value;
        return 0;
    }
    if (2 * (m->n + 1) > m->cap) {
        grow(m);
        s = find(m, key, hash);
    }
    *s = (struct slot){ .key = key, .hash = hash, .value = value };
    m->n++;
    return 1;
}
