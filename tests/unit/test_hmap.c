// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "hmap.h"

#define N 10000

static size_t count_under(const struct hmap *m, uint64_t hash, const void *val)
{
	size_t it = HMAP_ITER_INIT, n = 0;
	void *v;

	while ((v = hmap_next(m, hash, &it)))
		n += !val || v == val;
	return n;
}

static void test_empty(void **state)
{
	struct hmap m;
	size_t it = HMAP_ITER_INIT;
	int x;

	hmap_init(&m);
	assert_null(hmap_next(&m, 1, &it));
	assert_false(hmap_del(&m, 1, &x));
	assert_int_equal(hmap_add(&m, 1, NULL), -EINVAL);
	assert_int_equal(hmap_count(&m), 0);
	hmap_free(&m);
}

/* Every key is found under its hash, and only its own value. */
static void test_add_find_many(void **state)
{
	static int v[N];
	struct hmap m;

	hmap_init(&m);
	for (int i = 0; i < N; i++)
		assert_int_equal(hmap_add(&m, hmap_hash_u64(i), &v[i]), 0);
	assert_int_equal(hmap_count(&m), N);
	assert_true(m.used * 4 <= m.cap * 3);
	for (int i = 0; i < N; i++) {
		size_t it = HMAP_ITER_INIT;

		assert_ptr_equal(hmap_next(&m, hmap_hash_u64(i), &it), &v[i]);
		assert_null(hmap_next(&m, hmap_hash_u64(i), &it));
	}
	assert_int_equal(count_under(&m, hmap_hash_u64(N + 1), NULL), 0);
	hmap_free(&m);
}

/* Equal hashes (one key twice, or two keys that collide) all come back,
 * and deleting one leaves the others. */
static void test_same_hash(void **state)
{
	int a, b, c;
	struct hmap m;

	hmap_init(&m);
	assert_int_equal(hmap_add(&m, 7, &a), 0);
	assert_int_equal(hmap_add(&m, 7, &b), 0);
	assert_int_equal(hmap_add(&m, 7 + 16, &c), 0); /* same first slot */
	assert_int_equal(count_under(&m, 7, NULL), 2);
	assert_int_equal(count_under(&m, 7 + 16, NULL), 1);
	assert_true(hmap_del(&m, 7, &a));
	assert_false(hmap_del(&m, 7, &a));
	assert_false(hmap_del(&m, 8, &b)); /* another hash */
	assert_int_equal(count_under(&m, 7, &b), 1);
	assert_int_equal(count_under(&m, 7, &a), 0);
	assert_int_equal(count_under(&m, 7 + 16, &c), 1);
	assert_int_equal(hmap_count(&m), 2);
	hmap_free(&m);
}

/* An entry removed while iterating does not stop the iteration. */
static void test_delete_while_iterating(void **state)
{
	int v[5];
	struct hmap m;
	size_t it = HMAP_ITER_INIT, seen = 0;
	void *p;

	hmap_init(&m);
	for (int i = 0; i < 5; i++)
		assert_int_equal(hmap_add(&m, 3, &v[i]), 0);
	while ((p = hmap_next(&m, 3, &it))) {
		assert_true(hmap_del(&m, 3, p));
		seen++;
	}
	assert_int_equal(seen, 5);
	assert_int_equal(hmap_count(&m), 0);
	hmap_free(&m);
}

/* Churn (add one, remove one, forever) keeps the table small and every
 * lookup correct: tombstones are cleaned by rehashing, not accumulated. */
static void test_churn_bounded(void **state)
{
	static int v[N];
	struct hmap m;

	hmap_init(&m);
	for (int i = 0; i < 64; i++)
		assert_int_equal(hmap_add(&m, hmap_hash_u64(i), &v[i]), 0);
	for (int i = 64; i < N; i++) {
		assert_int_equal(hmap_add(&m, hmap_hash_u64(i), &v[i]), 0);
		assert_true(hmap_del(&m, hmap_hash_u64(i - 64), &v[i - 64]));
		assert_int_equal(count_under(&m, hmap_hash_u64(i - 63), &v[i - 63]), 1);
	}
	assert_int_equal(hmap_count(&m), 64);
	assert_true(m.cap <= 256);
	assert_true(m.used * 4 <= m.cap * 3);
	hmap_free(&m);
}

static void test_hash_str(void **state)
{
	assert_int_equal(hmap_hash_str("/a/b"), hmap_hash_str("/a/b"));
	assert_int_not_equal(hmap_hash_str("/a/b"), hmap_hash_str("/a/c"));
	assert_int_not_equal(hmap_hash_str(""), hmap_hash_str("/"));
	assert_int_not_equal(hmap_hash_u64(1), hmap_hash_u64(2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_add_find_many),
		cmocka_unit_test(test_same_hash),
		cmocka_unit_test(test_delete_while_iterating),
		cmocka_unit_test(test_churn_bounded),
		cmocka_unit_test(test_hash_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
