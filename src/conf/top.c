/* SPDX-License-Identifier: ISC */
/*
 * top.c - the top level's sections: retention, http (listen address,
 * dashboard URL, access token, connection caps) and the public status page.
 */
#include "conf/conf_int.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "spec/secret.h"

static const struct key retention_keys[] = {
    {"raw_days", K_UINT, FIELD(struct conf, raw_days), 1, 3650, NULL, NULL, 0, 0},
    {"rollup_days", K_UINT, FIELD(struct conf, rollup_days), 1, 36500, NULL, NULL, 0, 0},
};

static void fn_listen(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	const char *a = conf_scalar(v), *colon;
	unsigned long long port;
	char host[300];
	unsigned char bin[16];

	(void)s;
	if (!a || conf_is_null(v)) {
		conf_err_at(l, v, "%s: expected HOST:PORT, found %s", k->name, conf_kind(v));
		return;
	}
	if (strcmp(a, "off") == 0) {
		/* No HTTP server at all: no dashboard, API or metrics. */
		l->c->listen = conf_strdup(l->c, "off");
		return;
	}
	colon = strrchr(a, ':');
	if (!colon || colon == a || strlen(a) >= sizeof(host) ||
	    conf_parse_ull(colon + 1, 65535, &port) < 0 || port == 0) {
		conf_err_at(l, v,
		            "%s: \"%s\" is not HOST:PORT (such as 127.0.0.1:8080 or [::1]:8080)",
		            k->name, conf_show(a).s);
		return;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - a), a);
	if (host[0] == '[') {
		size_t hl = strlen(host);

		if (hl < 3 || host[hl - 1] != ']') {
			conf_err_at(l, v, "%s: \"%s\" is not HOST:PORT", k->name, conf_show(a).s);
			return;
		}
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, bin) != 1) {
			conf_err_at(l, v, "%s: \"%s\" is not an IPv6 address", k->name,
			            conf_show(host + 1).s);
			return;
		}
	} else if (strchr(host, ':')) {
		conf_err_at(l, v, "%s: IPv6 addresses need brackets, as in [::1]:8080", k->name);
		return;
	} else if (!checkspec_is_host_name(host)) {
		conf_err_at(l, v, "%s: \"%s\" is not a host name or address", k->name,
		            conf_show(host).s);
		return;
	}
	l->c->listen = conf_strdup(l->c, a);
}

/* http:// or https:// with a host, no spaces or controls. */
static int check_http_url(struct ld *l, const yaml_node_t *v, const char *key, const char *u)
{
	const char *h;

	if (strncasecmp(u, "https://", 8) == 0)
		h = u + 8;
	else if (strncasecmp(u, "http://", 7) == 0)
		h = u + 7;
	else {
		conf_err_at(l, v, "%s: \"%s\" is not an http:// or https:// URL", key,
		            conf_show(u).s);
		return -1;
	}
	if (!*h || *h == '/' || *h == ':' || checkspec_has_control(u) || strchr(u, ' ')) {
		conf_err_at(l, v, "%s: \"%s\" is not a usable URL (a host is needed; no spaces)",
		            key, conf_show(u).s);
		return -1;
	}
	return 0;
}

void top_http_url(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	const char *u = conf_scalar(v);

	if (!u || conf_is_null(v)) {
		conf_err_at(l, v, "%s: expected a URL, found %s", k->name, conf_kind(v));
		return;
	}
	if (check_http_url(l, v, k->name, u) == 0)
		conf_put_ptr(s->base, k->off, conf_strdup(l->c, u));
}

/*
 * public_status.checks: check names or key=value label selectors. The
 * names are checked against the checks list in top_public_cross(), since the
 * http section is read before the checks.
 */
static void fn_public_checks(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	yaml_node_t *it[CONF_LABELS_MAX];
	int n = conf_items(l, v, it, CONF_LABELS_MAX, k->name);
	struct conf *c = l->c;

	(void)s;
	c->npublic_checks = 0;
	for (int i = 0; i < n; i++) {
		const char *a = conf_scalar(it[i]);

		if (!a || conf_is_null(it[i])) {
			conf_err_at(l, it[i],
			            "checks: expected a check name or key=value, found %s",
			            conf_kind(it[i]));
			continue;
		}
		if (strchr(a, '=')) {
			if (!conf_is_label_selector(a)) {
				conf_err_at(l, it[i],
				            "checks: \"%s\" is not a label selector key=value",
				            conf_show(a).s);
				continue;
			}
		} else if (conf_check_name(l, it[i], "check name", a) < 0) {
			continue;
		}
		l->pub_at[c->npublic_checks] = conf_pos_of(it[i]);
		c->public_checks[c->npublic_checks++] = conf_strdup(c, a);
	}
}

static const struct key public_keys[] = {
    {"enabled", K_BOOL, FIELD(struct conf, public_enabled), 0, 0, NULL, NULL, 0, 0},
    {"title", K_STR, FIELD(struct conf, public_title), 0, 100, NULL, NULL, 0, 0},
    {"checks", K_FN, 0, 0, 0, 0, NULL, fn_public_checks, 0, 0},
};

static void fn_public(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct section sub;

	(void)s;
	(void)k;
	conf_section_init(&sub, public_keys, NKEYS(public_keys), l->c, "http.public_status");
	conf_walk(l, &sub, v);
	if (l->c->public_enabled && !conf_has(&sub, "checks"))
		conf_err_at(
		    l, v,
		    "http.public_status: enabled needs checks (the check names or key=value "
		    "labels to show)");
}

/* Bearer tokens (RFC 6750 b64token): no spaces, long enough not to be guessed. */
#define CONF_TOKEN_MIN 16

static void http_cross(struct ld *l)
{
	const char *t = l->c->http_token;

	if (!t)
		return;
	if (strlen(t) < CONF_TOKEN_MIN)
		conf_err_pos(l, l->token_at, "http: the token is shorter than %d characters",
		             CONF_TOKEN_MIN);
	else if (strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	                   "-._~+/=") != strlen(t))
		conf_err_pos(
		    l, l->token_at,
		    "http: the token may hold only letters, digits and -._~+/= (RFC 6750)");
}

static const struct key http_keys[] = {
    {"listen", K_FN, 0, 0, 0, 0, NULL, fn_listen, 0, 0},
    {"dashboard_url", K_FN, FIELD(struct conf, dashboard_url), 0, 0, NULL, top_http_url, 0, 0},
    {"token_file", K_SECRET_FILE, FIELD(struct conf, http_token), 0, 0, NULL, NULL, 0, 0},
    {"token_env", K_SECRET_ENV, FIELD(struct conf, http_token), 0, 0, NULL, NULL, 0, 0},
    {"token", K_INLINE, 0, 0, 0, 0, NULL, NULL, KF_HIDDEN, 0},
    {"public_status", K_FN, 0, 0, 0, 0, NULL, fn_public, 0, 0},
    {"max_connections", K_UINT, FIELD(struct conf, http_max_conns), 1, 100000, NULL, NULL, 0, 0},
    {"max_connections_per_address", K_UINT, FIELD(struct conf, http_max_conns_per_addr), 1, 100000,
     NULL, NULL, 0, 0},
};

void top_retention(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct section sub;

	(void)s;
	(void)k;
	conf_section_init(&sub, retention_keys, NKEYS(retention_keys), l->c, "retention");
	conf_walk(l, &sub, v);
}

void top_http(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct section sub;

	(void)s;
	(void)k;
	conf_section_init(&sub, http_keys, NKEYS(http_keys), l->c, "http");
	conf_walk(l, &sub, v);
	l->token_at =
	    conf_has(&sub, "token_file") ? conf_at(&sub, "token_file") : conf_at(&sub, "token_env");
	if (l->c->http_token)
		http_cross(l);
	if (l->c->http_max_conns_per_addr > l->c->http_max_conns)
		conf_err_pos(
		    l,
		    conf_at(&sub, conf_has(&sub, "max_connections_per_address")
		                      ? "max_connections_per_address"
		                      : "max_connections"),
		    "http: max_connections_per_address (%u) is more than max_connections (%u)",
		    l->c->http_max_conns_per_addr, l->c->http_max_conns);
}

/* After the checks are loaded: every name the public page lists exists. */
void top_public_cross(struct ld *l)
{
	const struct conf *c = l->c;

	for (int i = 0; i < c->npublic_checks; i++)
		if (!strchr(c->public_checks[i], '=') && !conf_find_check(c, c->public_checks[i]))
			conf_xerr(l, l->pub_at[i], "http.public_status: no check is named \"%s\"",
			          conf_show(c->public_checks[i]).s);
}

int conf_public_covers(const struct conf *c, const struct conf_check *cc)
{
	if (!c->public_enabled)
		return 0;
	for (int i = 0; i < c->npublic_checks; i++) {
		if (strchr(c->public_checks[i], '=')) {
			for (int j = 0; j < cc->nlabels; j++)
				if (strcmp(cc->labels[j], c->public_checks[i]) == 0)
					return 1;
		} else if (cc->name && strcmp(cc->name, c->public_checks[i]) == 0) {
			return 1;
		}
	}
	return 0;
}
