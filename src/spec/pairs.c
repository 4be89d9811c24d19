/* SPDX-License-Identifier: ISC */
/*
 * pairs.c - a built struct check as KEYS-spelled key/value pairs (see
 * checkspec_pairs() in checkspec.h), the inverse of checkspec_build(): what
 * a controller sends a node so the node builds the same check through the
 * same validators.
 *
 * The walk goes over the builder's own key table (checkspec_key_name()), so
 * a key added there and not spelled here is an error (-1), which the unit
 * test of the round trip catches, instead of a setting silently left at the
 * node's default.
 */
#include <stdio.h>
#include <string.h>

#include "spec/checkspec.h"
#include "spec/duration.h"

static int pairs_bool(checkspec_pair_fn fn, void *arg, const char *key, int v)
{
	return fn(arg, key, v ? "true" : "false");
}

static int pairs_num(checkspec_pair_fn fn, void *arg, const char *key, long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	return fn(arg, key, buf);
}

/* An enum key by its KEYS name: -1 when the value is none of the table's. */
static int pairs_enum(checkspec_pair_fn fn, void *arg, const char *key, int v)
{
	const char *name = checkspec_value_name(key, v);

	if (strcmp(name, "?") == 0)
		return -1;
	return fn(arg, key, name);
}

/* A string key that may be unset: an unset one is left out, as the builder never had it. */
static int pairs_str(checkspec_pair_fn fn, void *arg, const char *key, const char *v)
{
	return v ? fn(arg, key, v) : 0;
}

/* One key of the table, with all its items; the password's sources send nothing. */
static int pairs_key(const struct check *c, const char *key, checkspec_pair_fn fn, void *arg)
{
	char buf[32];
	int rc = 0;

	if (strcmp(key, "url") == 0)
		return fn(arg, key, c->target.url);
	if (strcmp(key, "timeout") == 0)
		return fn(arg, key, duration_format(buf, sizeof(buf), c->timeout_ms));
	if (strcmp(key, "starttls") == 0)
		return pairs_enum(fn, arg, key, (int)c->starttls);
	if (strcmp(key, "expect") == 0)
		return pairs_str(fn, arg, key, c->expect);
	if (strcmp(key, "expect_capabilities") == 0) {
		for (int i = 0; i < c->n_expect_caps && i < CHECK_CAPS_MAX && !rc; i++)
			rc = fn(arg, key, c->expect_caps[i]);
		return rc;
	}
	if (strcmp(key, "warn_ms") == 0)
		return pairs_num(fn, arg, key, c->warn_ms);
	if (strcmp(key, "crit_ms") == 0)
		return pairs_num(fn, arg, key, c->crit_ms);
	if (strcmp(key, "sni") == 0)
		return pairs_str(fn, arg, key, c->sni);
	if (strcmp(key, "ca_file") == 0)
		return pairs_str(fn, arg, key, c->ca_file);
	if (strcmp(key, "min_tls") == 0)
		return pairs_enum(fn, arg, key, c->min_tls);
	if (strcmp(key, "insecure") == 0)
		return pairs_bool(fn, arg, key, c->insecure);
	if (strcmp(key, "all_addresses") == 0)
		return pairs_bool(fn, arg, key, c->all_addresses);
	if (strcmp(key, "family") == 0)
		return pairs_enum(fn, arg, key, c->family);
	if (strcmp(key, "resolve") == 0) {
		for (int i = 0; i < c->n_resolve && i < CHECK_RESOLVE_MAX && !rc; i++)
			rc = fn(arg, key, c->resolve[i]);
		return rc;
	}
	if (strcmp(key, "cert_warn_days") == 0)
		return pairs_num(fn, arg, key, c->cert_warn_days);
	if (strcmp(key, "cert_crit_days") == 0)
		return pairs_num(fn, arg, key, c->cert_crit_days);
	/*
	 * Always sent: an explicit cert_warn_days would otherwise turn the
	 * rule off on the other side (checkspec_finish()).
	 */
	if (strcmp(key, "cert_lifetime_rule") == 0)
		return pairs_bool(fn, arg, key, c->cert_life_rule);
	if (strcmp(key, "login") == 0)
		return pairs_str(fn, arg, key, c->login);
	if (strcmp(key, "password_file") == 0 || strcmp(key, "password_env") == 0)
		return 0;
	if (strcmp(key, "allow_plaintext_auth") == 0)
		return pairs_bool(fn, arg, key, c->allow_plaintext_auth);
	if (strcmp(key, "posture") == 0)
		return pairs_enum(fn, arg, key, (int)c->posture);
	/* A key of the builder's table this file does not know: never guess it. */
	return -1;
}

int checkspec_pairs(const struct check *c, checkspec_pair_fn fn, void *arg)
{
	const char *key;
	int rc;

	/* The url first: messages about the rest may depend on the protocol. */
	rc = pairs_key(c, "url", fn, arg);
	for (int i = 0; !rc && (key = checkspec_key_name(i, CHECKSPEC_KEYS)) != NULL; i++)
		if (strcmp(key, "url") != 0)
			rc = pairs_key(c, key, fn, arg);
	return rc;
}
