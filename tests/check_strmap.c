/* check_strmap.c: the string table: SipHash against the reference vectors, lookups and
 * first-value-wins adds over many keys, keys that differ only at the end. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "util.h"

/* The reference implementation's vectors: key 00 01 .. 0f, message 00 01 .. len-1. */
START_TEST(test_siphash_matches_reference_vectors)
{
    static const struct {
        size_t len;
        uint64_t want;
    } v[] = {
        { 0, 0x726fdb47dd0e0e31ULL },  { 1, 0x74f839c593dc67fdULL },
        { 7, 0xab0200f58b01d137ULL },  { 8, 0x93f5f5799a932462ULL },
        { 15, 0xa129ca6149be45e5ULL }, { 16, 0x3f2acc7f57c29bdbULL },
        { 63, 0x958a324ceb064572ULL },
    };
    uint8_t key[16], msg[64];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    for (size_t i = 0; i < MR_ARRAY_SIZE(v); i++)
        ck_assert_msg(mr_siphash24(msg, v[i].len, key) == v[i].want,
                      "length %zu: got %016llx", v[i].len,
                      (unsigned long long)mr_siphash24(msg, v[i].len, key));
}
END_TEST

START_TEST(test_map_adds_and_finds_many_keys)
{
    enum { N = 100000 };
    char **keys = mr_xcalloc(N, sizeof(*keys));
    struct mr_strmap *m = mr_strmap_new();
    size_t v;
    for (size_t i = 0; i < N; i++) {
        keys[i] = mr_xasprintf("cell-%zu", i);
        ck_assert_int_eq(mr_strmap_add(m, keys[i], i, NULL), 1);
    }
    ck_assert_uint_eq(mr_strmap_size(m), N);
    for (size_t i = 0; i < N; i++) {
        /* A copy of the key: lookups compare text, not pointers. */
        char k[32];
        snprintf(k, sizeof(k), "cell-%zu", i);
        ck_assert_int_eq(mr_strmap_get(m, k, &v), 1);
        ck_assert_uint_eq(v, i);
    }
    ck_assert_int_eq(mr_strmap_get(m, "cell-", &v), 0);
    ck_assert_int_eq(mr_strmap_get(m, "cell-100000", NULL), 0);
    ck_assert_int_eq(mr_strmap_get(m, "", NULL), 0);
    mr_strmap_free(m);
    for (size_t i = 0; i < N; i++)
        free(keys[i]);
    free(keys);
}
END_TEST

START_TEST(test_map_add_keeps_the_first_value)
{
    struct mr_strmap *m = mr_strmap_new();
    size_t v = 99;
    ck_assert_int_eq(mr_strmap_add(m, "host", 3, &v), 1);
    ck_assert_uint_eq(v, 99); /* untouched when the key is new */
    ck_assert_int_eq(mr_strmap_add(m, "host", 7, &v), 0);
    ck_assert_uint_eq(v, 3);
    ck_assert_int_eq(mr_strmap_add(m, "host", 8, NULL), 0);
    ck_assert_int_eq(mr_strmap_add(m, "", 4, NULL), 1);
    ck_assert_int_eq(mr_strmap_get(m, "host", &v), 1);
    ck_assert_uint_eq(v, 3);
    ck_assert_int_eq(mr_strmap_get(m, "", &v), 1);
    ck_assert_uint_eq(v, 4);
    ck_assert_uint_eq(mr_strmap_size(m), 2);
    mr_strmap_free(m);
    mr_strmap_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("strmap");
    TCase *tc = tcase_create("strmap");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_siphash_matches_reference_vectors);
    tcase_add_test(tc, test_map_adds_and_finds_many_keys);
    tcase_add_test(tc, test_map_add_keeps_the_first_value);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
