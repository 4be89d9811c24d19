/* SPDX-License-Identifier: ISC */
/*
 * test_http_rate.c - the node endpoints' rate (http/nodes.c): a node may
 * send HTTP_NODES_BURST requests at once and HTTP_NODES_RATE a second
 * after that; each node has its own bucket; and a node that comes after
 * reloads have filled every slot with the names of nodes removed since is
 * still limited (it used to go unlimited), taking the slot idle longest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "http/nodes.h"

#define T0 1000000000LL /* monotonic us */

/* Requests name may send at now before it is refused. */
static int burst(const char *name, int64_t now)
{
	int n = 0;

	while (n < 10 * HTTP_NODES_BURST && http_nodes_rate_take(name, now))
		n++;
	return n;
}

static void test_rate(void **state)
{
	char name[32];

	(void)state;
	assert_int_equal(burst("eu", T0), HTTP_NODES_BURST);
	/* Its own bucket: another node is not held back by it. */
	assert_int_equal(burst("us", T0), HTTP_NODES_BURST);
	/* A second later, HTTP_NODES_RATE more. */
	assert_int_equal(burst("eu", T0 + 1000000), HTTP_NODES_RATE);

	/* Every slot taken by names that reloads removed since (eu's and us's too). */
	for (int i = 0; i < CONF_NODES_MAX; i++) {
		snprintf(name, sizeof(name), "old-%d", i);
		assert_int_equal(http_nodes_rate_take(name, T0 + 2000000 + i), 1);
	}
	/* A newcomer is limited like any node (it used to go unlimited)... */
	assert_int_equal(burst("new", T0 + 2000000 + CONF_NODES_MAX), HTTP_NODES_BURST);
	/* ...in the slot idle longest, old-0's: old-1 keeps its bucket, one token spent. */
	assert_int_equal(burst("old-1", T0 + 2000000 + 1), HTTP_NODES_BURST - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
