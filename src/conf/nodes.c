/* SPDX-License-Identifier: ISC */
/*
 * nodes.c - the probing nodes a controller accepts (`nodes:`), where node
 * alerts go (`node_notify:`), and the check key that names them
 * (`locations:`).
 *
 * A node's name is the location its results are for, and its token is
 * what proves a request comes from it: so names are unique and never this
 * daemon's own location, and no two nodes share a token (a shared token
 * would let one node send results as the other). Tokens are secrets, read
 * from a file no other user may read, or from the environment.
 */
#include "conf/conf_int.h"

#include <stdlib.h>
#include <string.h>

static void fn_noop(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	(void)l;
	(void)s;
	(void)k;
	(void)v; /* name: read by conf_nodes_load() before the walk, to name the section */
}

#define ND(m) FIELD(struct conf_node, m)
static const struct key node_keys[] = {
    {"name", K_FN, 0, 0, 0, 0, NULL, fn_noop, 0, 0},
    {"token_file", K_SECRET_FILE, ND(token), 0, 0, NULL, NULL, KF_PRIVATE, 0},
    {"token_env", K_SECRET_ENV, ND(token), 0, 0, NULL, NULL, 0, 0},
    {"token", K_INLINE, 0, 0, 0, 0, NULL, NULL, KF_HIDDEN, 0},
    {"region", K_STR, ND(region), 0, 64, NULL, NULL, 0, 0},
};

_Static_assert(NKEYS(node_keys) <= KEYS_MAX, "set masks are 64 bits");

/* One node: its name first (kept even when invalid, so locations add no noise). */
static void node_load(struct ld *l, yaml_node_t *e, struct conf_node *nd, struct nodex *x)
{
	yaml_node_t *nn = conf_map_get(l, e, "name");
	const char *name = conf_scalar(nn), *why;
	struct section s;

	nd->line = conf_pos_of(e).line;
	if (name && !conf_is_null(nn) && *name) {
		x->name_at = conf_pos_of(nn);
		nd->name = conf_strdup(l->c, name);
		if (conf_check_name(l, nn, "node name", name) == 0 &&
		    strcmp(name, l->c->location) == 0)
			conf_xerr(l, x->name_at,
			          "node name \"%s\" is this daemon's own location (location: %s): "
			          "give the node a name of its own",
			          conf_show(name).s, conf_show(l->c->location).s);
		conf_section_init(&s, node_keys, NKEYS(node_keys), nd, "node \"%s\"",
		                  conf_show(name).s);
	} else {
		conf_err_at(l, nn ? nn : e, "node without a name");
		conf_section_init(&s, node_keys, NKEYS(node_keys), nd, "node number %d",
		                  l->c->nnodes + 1);
	}
	conf_walk(l, &s, e);
	if (!conf_has(&s, "token_file") && !conf_has(&s, "token_env") && !conf_has(&s, "token")) {
		conf_err_pos(l, conf_pos_of(e),
		             "%s needs token_file or token_env (its bearer token)", s.what);
		return;
	}
	x->token_at =
	    conf_has(&s, "token_file") ? conf_at(&s, "token_file") : conf_at(&s, "token_env");
	if (nd->token && (why = conf_token_problem(nd->token))) {
		conf_err_pos(l, x->token_at, "%s: the token %s", s.what, why);
		nd->token = NULL; /* one message is enough: no "same token" on top */
	}
}

/* Names unique; tokens unique, and none the same as the API's own. O(n^2): n <= 256. */
static void nodes_unique(struct ld *l)
{
	const struct conf *c = l->c;

	for (int i = 0; i < c->nnodes; i++) {
		const struct conf_node *a = &c->nodes[i];

		for (int j = 0; j < i; j++)
			if (a->name && c->nodes[j].name && strcmp(a->name, c->nodes[j].name) == 0) {
				conf_xerr(l, l->nodex[i].name_at,
				          "duplicate node name \"%s\" (first on line %d)",
				          conf_show(a->name).s, l->nodex[j].name_at.line);
				break;
			}
		if (!a->token)
			continue;
		for (int j = 0; j < i; j++)
			if (c->nodes[j].token && strcmp(a->token, c->nodes[j].token) == 0) {
				conf_xerr(
				    l, l->nodex[i].token_at,
				    "node \"%s\" has the same token as node \"%s\" (line %d): "
				    "each node needs its own, or one could send results as the "
				    "other",
				    a->name ? conf_show(a->name).s : "?",
				    c->nodes[j].name ? conf_show(c->nodes[j].name).s : "?",
				    c->nodes[j].line);
				break;
			}
		if (c->http_token && strcmp(a->token, c->http_token) == 0)
			conf_xerr(l, l->nodex[i].token_at,
			          "node \"%s\" has the same token as http: a node's token must not "
			          "open the API",
			          a->name ? conf_show(a->name).s : "?");
	}
}

void conf_nodes_load(struct ld *l, yaml_node_t *v)
{
	struct conf *c = l->c;
	int n;

	if (v->type != YAML_SEQUENCE_NODE) {
		if (!conf_is_null(v))
			conf_err_at(
			    l, v,
			    "nodes: expected a list of nodes (name, token_file, ...), found %s",
			    conf_kind(v));
		return;
	}
	n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n > CONF_NODES_MAX) {
		conf_err_at(l, conf_node(l, v->data.sequence.items.start[CONF_NODES_MAX]),
		            "nodes: at most %d", CONF_NODES_MAX);
		n = CONF_NODES_MAX;
	}
	c->nodes = calloc((size_t)n + 1, sizeof(*c->nodes));
	l->nodex = calloc((size_t)n + 1, sizeof(*l->nodex));
	if (!c->nodes || !l->nodex) {
		l->oom = 1;
		return;
	}
	for (int i = 0; i < n; i++) {
		yaml_node_t *e = conf_node(l, v->data.sequence.items.start[i]);

		if (!conf_visit(l, e))
			return;
		if (e->type != YAML_MAPPING_NODE) {
			conf_err_at(
			    l, e, "nodes: each node is a mapping (name, token_file, ...), found %s",
			    conf_kind(e));
			continue;
		}
		node_load(l, e, &c->nodes[c->nnodes], &l->nodex[c->nnodes]);
		c->nnodes++;
	}
	nodes_unique(l);
}

/*
 * node_notify: [channel names]. Absent: every channel, as long as they fit
 * in node_channels; with more channels than that and nodes to alert on,
 * the list must be written out rather than cut silently.
 */
void conf_nodes_notify(struct ld *l, yaml_node_t *v)
{
	struct conf *c = l->c;
	yaml_node_t *it[CONF_ROUTES_MAX];
	int n;

	c->nnode_channels = 0;
	if (!v) {
		if (c->nchannels <= CONF_ROUTES_MAX) {
			for (int i = 0; i < c->nchannels; i++)
				c->node_channels[c->nnode_channels++] = i;
		} else if (c->nnodes > 0) {
			conf_xerr(
			    l, conf_pos_of(l->n_nodes),
			    "node_notify is needed: node alerts go to every channel when it is "
			    "absent, and at most %d channels can take them (there are %d)",
			    CONF_ROUTES_MAX, c->nchannels);
		}
		return;
	}
	n = conf_items(l, v, it, CONF_ROUTES_MAX, "node_notify");
	for (int i = 0; i < n; i++) {
		const char *name = conf_scalar(it[i]);
		int idx, dup = 0;

		if (!name || conf_is_null(it[i])) {
			conf_err_at(l, it[i], "node_notify: expected a channel name, found %s",
			            conf_kind(it[i]));
			continue;
		}
		idx = conf_find_channel(c, name);
		if (idx < 0) {
			const char *names[64];
			const char *near;
			int nn = 0;

			for (int j = 0; j < c->nchannels && nn < 64; j++)
				names[nn++] = c->channels[j].name;
			near = conf_nearest(name, names, (size_t)nn);
			if (near)
				conf_xerr(
				    l, conf_pos_of(it[i]),
				    "node_notify: unknown channel \"%s\"; did you mean \"%s\"?",
				    conf_show(name).s, near);
			else
				conf_xerr(l, conf_pos_of(it[i]),
				          "node_notify: unknown channel \"%s\"%s",
				          conf_show(name).s,
				          c->nchannels ? "" : " (no channels are defined)");
			continue;
		}
		for (int j = 0; j < c->nnode_channels; j++)
			dup |= c->node_channels[j] == idx;
		if (dup) {
			conf_err_at(l, it[i], "node_notify: channel \"%s\" is listed twice",
			            conf_show(name).s);
			continue;
		}
		c->node_channels[c->nnode_channels++] = idx;
	}
}

/* The allowed names, for a message: this daemon's location, then the nodes (cut when long). */
static void allowed_locations(const struct conf *c, char *buf, size_t len)
{
	size_t at = (size_t)snprintf(buf, len, "a location is this daemon's (%s) or a node's (",
	                             conf_show(c->location).s);
	int shown = 0;

	for (int i = 0; i < c->nnodes && at < len; i++) {
		if (!c->nodes[i].name)
			continue;
		if (at > 400) {
			at +=
			    (size_t)snprintf(buf + at, len - at, " and %d more", c->nnodes - shown);
			break;
		}
		at += (size_t)snprintf(buf + at, len - at, "%s%s", shown ? ", " : "",
		                       conf_show(c->nodes[i].name).s);
		shown++;
	}
	if (at < len)
		snprintf(buf + at, len - at, "%s)", shown ? "" : "no nodes are defined");
}

void conf_nodes_locations(struct ld *l, struct conf_check *cc, yaml_node_t *const *items, int n)
{
	const struct conf *c = l->c;

	cc->nlocations = 0;
	for (int i = 0; i < n; i++) {
		const char *a = conf_scalar(items[i]);
		int dup = 0;

		if (!a || conf_is_null(items[i])) {
			conf_err_at(l, items[i], "locations: expected a location name, found %s",
			            conf_kind(items[i]));
			continue;
		}
		for (int j = 0; j < cc->nlocations; j++)
			dup |= strcmp(cc->locations[j], a) == 0;
		if (dup) {
			conf_err_at(l, items[i], "locations: \"%s\" is listed twice",
			            conf_show(a).s);
			continue;
		}
		if (strcmp(a, c->location) != 0 && !conf_find_node(c, a)) {
			const char *names[CONF_NODES_MAX + 1], *near;
			char allowed[600];
			int nn = 0;

			names[nn++] = c->location;
			for (int j = 0; j < c->nnodes; j++)
				names[nn++] = c->nodes[j].name;
			near = conf_nearest(a, names, (size_t)nn);
			allowed_locations(c, allowed, sizeof(allowed));
			if (near)
				conf_xerr(
				    l, conf_pos_of(items[i]),
				    "locations: unknown location \"%s\" (did you mean \"%s\"?); %s",
				    conf_show(a).s, conf_show(near).s, allowed);
			else
				conf_xerr(l, conf_pos_of(items[i]),
				          "locations: unknown location \"%s\"; %s", conf_show(a).s,
				          allowed);
			continue;
		}
		cc->locations[cc->nlocations++] = conf_strdup(l->c, a);
	}
}
