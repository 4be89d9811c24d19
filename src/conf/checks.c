/* SPDX-License-Identifier: ISC */
/*
 * checks.c - the defaults block and the checks: the probe's options through
 * the one check builder (spec/checkspec.h), then what only the daemon has
 * (interval, retries, labels, notify routes), the cross-checks and the
 * digest that tells a changed check from an unchanged one on reload.
 */
#include "conf/conf_int.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/result.h"

/* ---- checks: values ------------------------------------------------------ */

_Static_assert(CHECKSPEC_TIMEOUT_MAX_MS == CONF_INTERVAL_MAX_MS,
               "a check's timeout may be as long as its longest interval");

static void fn_check_name(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_check *cc = s->base;
	const char *a = conf_scalar(v);

	if (!a || conf_is_null(v)) {
		conf_err_at(l, v, "%s: expected a check name, found %s", k->name, conf_kind(v));
		return;
	}
	conf_check_name(l, v, "check name", a);
	cc->name = conf_strdup(l->c, a);
}

/* The check builder keeps its strings in the conf's arena. */
static char *spec_save(void *arg, const char *s, int secret)
{
	struct ld *l = arg;

	(void)secret; /* the arena is wiped as a whole */
	return conf_strdup(l->c, s);
}

static void spec_init(struct ld *l, struct checkspec *b, struct check *chk)
{
	checkspec_init(b, chk, CHECKSPEC_KEYS, spec_save, l);
	b->dir = l->dir;
}

/* One value to the builder: text, YAML's null (with its spelling), or another kind. */
static int spec_one(struct ld *l, struct checkspec *b, const char *key, const yaml_node_t *v)
{
	const char *a = conf_scalar(v);
	char err[1024];
	int rc;

	if (!a)
		rc = checkspec_set_other(b, key, NULL, conf_kind(v), err, sizeof(err));
	else if (conf_is_null(v))
		rc = checkspec_set_other(b, key, a, conf_kind(v), err, sizeof(err));
	else
		rc = checkspec_set(b, key, a, err, sizeof(err));
	if (rc < 0)
		conf_err_at(l, v, "%s", err);
	return rc;
}

/* A check key (K_SPEC): the one check builder validates and stores it. */
void checks_spec_value(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	int key = checkspec_key(k->name);

	if (checkspec_key_is_list(key)) {
		yaml_node_t
		    *it[CHECK_CAPS_MAX > CHECK_RESOLVE_MAX ? CHECK_CAPS_MAX : CHECK_RESOLVE_MAX];
		int max = strcmp(k->name, "resolve") == 0 ? CHECK_RESOLVE_MAX : CHECK_CAPS_MAX;
		int n = conf_items(l, v, it, max, k->name);

		if (n < 0)
			return;
		/* A list replaces the inherited one. */
		checkspec_clear(s->spec, k->name);
		for (int i = 0; i < n; i++)
			spec_one(l, s->spec, k->name, it[i]);
		return;
	}
	if (spec_one(l, s->spec, k->name, v) == 0 && strcmp(k->name, "url") == 0)
		((struct conf_check *)s->base)->url = conf_strdup(l->c, conf_scalar(v));
}

static void add_label(struct ld *l, struct conf_check *cc, const yaml_node_t *at_node,
                      const char *key, const char *val)
{
	size_t n;
	char *p;

	if (conf_check_name(l, at_node, "label", key) < 0)
		return;
	if (val && !conf_label_value_ok(val)) {
		conf_err_at(l, at_node,
		            "label %s: \"%s\" is not a label value (no spaces or '=', at most %d)",
		            key, conf_show(val).s, CONF_LABEL_MAX);
		return;
	}
	if (cc->nlabels == CONF_LABELS_MAX) {
		conf_err_at(l, at_node, "labels: at most %d", CONF_LABELS_MAX);
		return;
	}
	n = strlen(key) + (val ? strlen(val) + 1 : 0) + 1;
	p = conf_alloc(l->c, n);
	if (!p)
		return;
	snprintf(p, n, val ? "%s=%s" : "%s", key, val ? val : "");
	cc->labels[cc->nlabels++] = p;
}

/* labels: {env: prod} or [env=prod, canary]. */
static void fn_labels(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_check *cc = s->base;

	cc->nlabels = 0;
	if (v->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
		     p < v->data.mapping.pairs.top; p++) {
			yaml_node_t *kn = conf_node(l, p->key), *vn = conf_node(l, p->value);

			if (!conf_visit(l, kn))
				return;
			if (!conf_scalar(kn) || !conf_scalar(vn) || conf_is_null(vn)) {
				conf_err_at(l, conf_scalar(kn) ? vn : kn,
				            "labels: each label is key: value, found %s",
				            conf_kind(conf_scalar(kn) ? vn : kn));
				continue;
			}
			add_label(l, cc, conf_scalar(kn) ? vn : kn, conf_scalar(kn),
			          conf_scalar(vn));
		}
		return;
	}
	yaml_node_t *it[CONF_LABELS_MAX];
	int n = conf_items(l, v, it, CONF_LABELS_MAX, k->name);

	for (int i = 0; i < n; i++) {
		const char *a = conf_scalar(it[i]);
		char key[CONF_NAME_MAX + 2];
		const char *eq;

		if (!a) {
			conf_err_at(l, it[i], "labels: expected key=value or a word, found %s",
			            conf_kind(it[i]));
			continue;
		}
		eq = strchr(a, '=');
		if (eq && (size_t)(eq - a) <= CONF_NAME_MAX) {
			snprintf(key, sizeof(key), "%.*s", (int)(eq - a), a);
			add_label(l, cc, it[i], key, eq + 1);
		} else {
			add_label(l, cc, it[i], a, NULL);
		}
	}
}

/* ---- notify routes --------------------------------------------------- */

static const char *const *reason_names(void)
{
	static const char *names[MP_R__COUNT];

	for (int i = 1; i < MP_R__COUNT; i++)
		names[i] = result_reason_name((enum mp_reason)i);
	return names;
}

static void fn_route_channel(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	(void)l;
	(void)s;
	(void)k;
	(void)v; /* resolved by add_route(), which needs the name before anything else */
}

static void fn_reasons(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_route *r = s->base;
	yaml_node_t *it[MP_R__COUNT];
	int n = conf_items(l, v, it, MP_R__COUNT, k->name);

	r->nreasons = 0;
	for (int i = 0; i < n; i++) {
		const char *a = conf_scalar(it[i]);
		int why = a ? result_reason_parse(a) : -1, dup = 0;
		const char *near;

		if (why <= 0) {
			near = a ? conf_nearest(a, reason_names(), MP_R__COUNT) : NULL;
			if (near)
				conf_err_at(l, it[i],
				            "reasons: unknown reason \"%s\"; did you mean \"%s\"?",
				            conf_show(a).s, near);
			else
				conf_err_at(l, it[i],
				            "reasons: \"%s\" is not a failure reason (see "
				            "mailpulse.conf(5) "
				            "for the list)",
				            a ? conf_show(a).s : conf_kind(it[i]));
			continue;
		}
		for (int j = 0; j < r->nreasons; j++)
			dup |= r->reasons[j] == (unsigned char)why;
		if (!dup)
			r->reasons[r->nreasons++] = (unsigned char)why;
	}
}

#define RT(m) FIELD(struct conf_route, m)
static const struct key route_keys[] = {
    {"channel", K_FN, 0, 0, 0, 0, NULL, fn_route_channel, 0, 0},
    {"reasons", K_FN, 0, 0, 0, 0, NULL, fn_reasons, 0, 0},
    {"recovery", K_BOOL, RT(recovery), 0, 0, NULL, NULL, 0, 0},
};

static void add_route(struct ld *l, struct conf_check *cc, yaml_node_t *e)
{
	struct conf_route r;
	yaml_node_t *cn = e;
	const char *name;
	const char *names[64] = {NULL};
	int idx = -1, nn = 0;

	memset(&r, 0, sizeof(r));
	r.recovery = 1;
	if (e->type == YAML_MAPPING_NODE) {
		struct section s;

		conf_section_init(&s, route_keys, NKEYS(route_keys), &r, "a notify entry");
		conf_walk(l, &s, e);
		cn = conf_map_get(l, e, "channel");
		if (!cn) {
			conf_err_at(l, e, "notify: an entry needs a channel");
			return;
		}
	}
	name = conf_scalar(cn);
	if (!name || conf_is_null(cn)) {
		conf_err_at(l, cn,
		            "notify: expected a channel name or {channel: NAME, reasons: [...]}, "
		            "found %s",
		            conf_kind(cn));
		return;
	}
	for (int i = 0; i < l->c->nchannels; i++) {
		if (l->c->channels[i].name && strcmp(l->c->channels[i].name, name) == 0) {
			idx = i;
			break;
		}
		if (nn < 64)
			names[nn++] = l->c->channels[i].name;
	}
	if (idx < 0) {
		const char *near = conf_nearest(name, names, (size_t)nn);

		if (near)
			conf_xerr(l, conf_pos_of(cn),
			          "notify: unknown channel \"%s\"; did you mean \"%s\"?",
			          conf_show(name).s, near);
		else
			conf_xerr(l, conf_pos_of(cn), "notify: unknown channel \"%s\"%s",
			          conf_show(name).s,
			          l->c->nchannels ? "" : " (no channels are defined)");
		return;
	}
	for (int i = 0; i < cc->nroutes; i++) {
		if (cc->routes[i].channel == idx) {
			conf_err_at(l, cn, "notify: channel \"%s\" is listed twice",
			            conf_show(name).s);
			return;
		}
	}
	if (cc->nroutes == CONF_ROUTES_MAX) {
		conf_err_at(l, cn, "notify: at most %d channels", CONF_ROUTES_MAX);
		return;
	}
	r.channel = idx;
	cc->routes[cc->nroutes++] = r;
}

static void fn_notify(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_check *cc = s->base;
	yaml_node_t *it[CONF_ROUTES_MAX + 1];
	int n;

	/* A check's notify replaces the defaults' list: say "notify: []" for silence. */
	cc->nroutes = 0;
	if (v->type == YAML_MAPPING_NODE) {
		add_route(l, cc, v);
		return;
	}
	n = conf_items(l, v, it, CONF_ROUTES_MAX + 1, k->name);
	for (int i = 0; i < n; i++)
		add_route(l, cc, it[i]);
}

/* ---- locations and quorum ------------------------------------------------ */

/* locations: [fra1, eu-west, ...]: a list replaces the inherited one. */
static void fn_locations(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	yaml_node_t *it[CONF_LOCATIONS_MAX];
	int n = conf_items(l, v, it, CONF_LOCATIONS_MAX, k->name);

	if (n >= 0)
		conf_nodes_locations(l, s->base, it, n);
}

/* quorum: N or majority; checked against the locations by checks_cross(). */
static void fn_quorum(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_check *cc = s->base;
	const char *a = conf_scalar(v);
	unsigned long long u;

	if (!a || conf_is_null(v)) {
		conf_err_at(l, v, "%s: expected a number or majority, found %s", k->name,
		            conf_kind(v));
		return;
	}
	if (strcmp(a, "majority") == 0) {
		cc->quorum = CONF_QUORUM_MAJORITY;
		return;
	}
	if (checkspec_uint(a, CONF_LOCATIONS_MAX, &u) != 0 || u == 0) {
		conf_err_at(l, v, "%s: \"%s\" is not a number of locations (1 to %d) or majority",
		            k->name, conf_show(a).s, CONF_LOCATIONS_MAX);
		return;
	}
	cc->quorum = (unsigned)u;
}

/* ---- checks: table --------------------------------------------------- */

#define CC(m) FIELD(struct conf_check, m)
/* The check keys, which are also the defaults block's. */
static const struct key check_keys[] = {
    {"name", K_FN, 0, 0, 0, 0, NULL, fn_check_name, KF_CHECK_ONLY, 0},
    {"url", K_SPEC, 0, 0, 0, 0, NULL, NULL, KF_CHECK_ONLY, 0},
    {"interval", K_DUR, CC(interval_ms), CONF_INTERVAL_MIN_MS, CONF_INTERVAL_MAX_MS, NULL, NULL, 0,
     0},
    {"timeout", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"retry", K_DUR, CC(retry_ms), 1000, CONF_INTERVAL_MAX_MS, NULL, NULL, 0, 0},
    {"fail_after", K_UINT, CC(fail_after), 1, 100, NULL, NULL, 0, 0},
    {"recover_after", K_UINT, CC(recover_after), 1, 100, NULL, NULL, 0, 0},
    {"reminder", K_DUR, CC(reminder_ms), 60000, 7 * 86400000ULL, NULL, NULL, KF_ZERO, 0},
    {"starttls", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"expect", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"expect_capabilities", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"warn_ms", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"crit_ms", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"sni", K_SPEC, 0, 0, 0, 0, NULL, NULL, KF_CHECK_ONLY, 0},
    {"ca_file", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"min_tls", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"insecure", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"all_addresses", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"family", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"resolve", K_SPEC, 0, 0, 0, 0, NULL, NULL, KF_CHECK_ONLY, 0},
    {"cert_warn_days", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"cert_crit_days", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"cert_lifetime_rule", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"login", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"password_file", K_SPEC, 0, 0, 0, 0, NULL, NULL, KF_PWSRC, 0},
    {"password_env", K_SPEC, 0, 0, 0, 0, NULL, NULL, KF_PWSRC, 0},
    {"password", K_INLINE, 0, 0, 0, 0, NULL, NULL, KF_HIDDEN, 0},
    {"allow_plaintext_auth", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"posture", K_SPEC, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {"labels", K_FN, 0, 0, 0, 0, NULL, fn_labels, KF_CHECK_ONLY, 0},
    {"notify", K_FN, 0, 0, 0, 0, NULL, fn_notify, 0, 0},
    {"locations", K_FN, 0, 0, 0, 0, NULL, fn_locations, 0, 0},
    {"quorum", K_FN, 0, 0, 0, 0, NULL, fn_quorum, 0, 0},
    {"password_to_nodes", K_BOOL, CC(password_to_nodes), 0, 0, NULL, NULL, 0, 0},
    {"notify_partial", K_BOOL, CC(notify_partial), 0, 0, NULL, NULL, 0, 0},
};

_Static_assert(NKEYS(check_keys) <= KEYS_MAX, "set masks are 64 bits");

static int ck(const char *name)
{
	const struct key *k = conf_find_key(check_keys, NKEYS(check_keys), name);

	return k ? (int)(k - check_keys) : 0;
}

/* Walk a check (or the defaults block) and note what was set where. */
static void walk_check(struct ld *l, struct section *s, struct ckx *x, yaml_node_t *map,
                       struct check *chk)
{
	struct checkspec b;

	spec_init(l, &b, chk);
	s->spec = &b;
	conf_walk(l, s, map);
	s->spec = NULL;
	memcpy(x->at, s->at, sizeof(x->at));
	x->set |= s->here;
	x->spec_set = b.set;
	if (b.pw_src)
		x->pw_src = b.pw_src;
}

void checks_load_defaults(struct ld *l, yaml_node_t *v)
{
	struct section s;

	if (conf_is_null(v))
		return;
	conf_section_init(&s, check_keys, NKEYS(check_keys), &l->tmpl, "defaults");
	s.defaults = 1;
	walk_check(l, &s, &l->tmpl_x, v, &l->tmpl.chk);
}

struct cross {
	struct ld *l;
	const struct ckx *x;
	const char *name;
};

/* Where a cross-check points: the first of the keys set in the check itself, else its start. */
static struct pos cross_at(const struct ckx *x, const char *key, const char *key2)
{
	if (x->at[ck(key)].line)
		return x->at[ck(key)];
	if (key2 && x->at[ck(key2)].line)
		return x->at[ck(key2)];
	return x->start;
}

static void cross_report(void *arg, const char *key, const char *key2, const char *msg)
{
	struct cross *cx = arg;

	conf_xerr(cx->l, cross_at(cx->x, key, key2), "check \"%s\": %s", cx->name, msg);
}

/*
 * quorum against the locations, either of which may come from defaults:
 * resolved to a number here, never 0 and never above the locations (one,
 * this daemon's, when the check names none).
 */
static void quorum_cross(struct ld *l, struct conf_check *cc, const struct ckx *x, const char *name)
{
	unsigned n = cc->nlocations ? (unsigned)cc->nlocations : 1;
	const char *from = x->at[ck("quorum")].line ? "" : " (from defaults)";

	if (cc->quorum == 0)
		cc->quorum = n >= 3 ? 2 : 1;
	else if (cc->quorum == CONF_QUORUM_MAJORITY)
		cc->quorum = n / 2 + 1;
	else if (cc->quorum > n && cc->nlocations == 0)
		conf_xerr(l, cross_at(x, "quorum", NULL),
		          "check \"%s\": quorum %u%s needs locations: without them the check is "
		          "probed from one location (%s), so its quorum can only be 1",
		          name, cc->quorum, from, conf_show(l->c->location).s);
	else if (cc->quorum > n)
		conf_xerr(l, cross_at(x, "quorum", "locations"),
		          "check \"%s\": quorum %u%s is more than its %u locations", name,
		          cc->quorum, from, n);
	if (cc->quorum > n)
		cc->quorum = n;
}

/* What only makes sense with the whole check at hand. */
void checks_cross(struct ld *l, struct conf_check *cc, struct ckx *x)
{
	struct check *k = &cc->chk;
	struct cross cx = {l, x, cc->name ? cc->name : "?"};
	struct checkspec b;

	quorum_cross(l, cc, x, cx.name);
	if (cc->password_to_nodes && !k->login) {
		/* From defaults, it is meant for the checks that log in. */
		if (x->at[ck("password_to_nodes")].line)
			conf_xerr(l, x->at[ck("password_to_nodes")],
			          "check \"%s\": password_to_nodes needs a login: without one no "
			          "password is sent",
			          cx.name);
		cc->password_to_nodes = 0;
	}
	if (cc->notify_partial && cc->nlocations < 2) {
		/*
		 * One location is never partial. From defaults, it is meant for
		 * the checks with several.
		 */
		if (x->at[ck("notify_partial")].line)
			conf_xerr(
			    l, x->at[ck("notify_partial")],
			    "check \"%s\": notify_partial needs two or more locations: a check "
			    "probed from %s is never partial",
			    cx.name, cc->nlocations ? "one location" : "this daemon alone");
		cc->notify_partial = 0;
	}

	k->login_interval_s = cc->interval_ms / 1000; /* for a server's LOGIN-DELAY */
	if (k->timeout_ms >= cc->interval_ms)
		conf_xerr(l, cross_at(x, "timeout", "interval"),
		          "check \"%s\": timeout %s is not shorter than the interval %s", cx.name,
		          conf_dur(k->timeout_ms).s, conf_dur(cc->interval_ms).s);
	spec_init(l, &b, k);
	b.set = x->spec_set;
	b.inherited = l->tmpl_x.spec_set;
	/* A password written inline was refused where it was written. */
	b.pw_refused = (int)(x->set >> ck("password") & 1);
	checkspec_finish(&b, cross_report, &cx);
	/* As written (a node resolves a file name on its own machine); in the arena already. */
	conf_put_ptr(cc, offsetof(struct conf_check, password_from), k->login ? x->pw_src : NULL);
}

void checks_load(struct ld *l, yaml_node_t *v, struct pos root)
{
	struct conf *c = l->c;
	yaml_node_item_t *it;
	int n;

	if (v && v->type != YAML_SEQUENCE_NODE && !conf_is_null(v)) {
		conf_err_at(l, v, "checks: expected a list of checks, found %s", conf_kind(v));
		return;
	}
	n = v && !conf_is_null(v) ? (int)(v->data.sequence.items.top - v->data.sequence.items.start)
	                          : 0;
	if (n == 0) {
		conf_xerr(l, v ? conf_pos_of(v) : root,
		          "no checks: a checks list with at least one is needed");
		return;
	}
	c->checks = calloc((size_t)n, sizeof(*c->checks));
	l->ckx = calloc((size_t)n, sizeof(*l->ckx));
	if (!c->checks || !l->ckx) {
		l->oom = 1;
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = conf_node(l, *it), *nn;
		struct conf_check *cc = &c->checks[c->nchecks];
		struct ckx *x = &l->ckx[c->nchecks];
		struct section s;
		const char *name;

		if (!conf_visit(l, e))
			return;
		if (e->type != YAML_MAPPING_NODE) {
			conf_err_at(l, e,
			            "checks: each check is a mapping (name, url, ...), found %s",
			            conf_kind(e));
			continue;
		}
		*cc = l->tmpl;
		x->set = l->tmpl_x.set;
		x->pw_src = l->tmpl_x.pw_src;
		x->start = conf_pos_of(e);
		cc->line = x->start.line;
		nn = conf_map_get(l, e, "name");
		name = conf_scalar(nn);
		if (name && !conf_is_null(nn))
			conf_section_init(&s, check_keys, NKEYS(check_keys), cc, "check \"%s\"",
			                  conf_show(name).s);
		else
			conf_section_init(&s, check_keys, NKEYS(check_keys), cc, "check number %d",
			                  c->nchecks + 1);
		walk_check(l, &s, x, e, &cc->chk);
		x->name_at = s.at[ck("name")];
		if (!conf_has(&s, "name"))
			conf_err_pos(l, x->start, "%s needs a name", s.what);
		if (!conf_has(&s, "url"))
			conf_err_pos(l, x->start, "%s needs a url", s.what);
		c->nchecks++;
	}
}

/* ---- digest ------------------------------------------------------------- */

static void dg_str(EVP_MD_CTX *m, const char *key, const char *v)
{
	char hdr[96];
	int n;

	/* Length-prefixed, so no value can pass for another field. */
	n = snprintf(hdr, sizeof(hdr), "%s=%zu:", key, v ? strlen(v) : (size_t)0);
	EVP_DigestUpdate(m, hdr, (size_t)n);
	if (v)
		EVP_DigestUpdate(m, v, strlen(v));
	EVP_DigestUpdate(m, v ? "\n" : "-\n", v ? 1 : 2);
}

static void dg_num(EVP_MD_CTX *m, const char *key, long long v)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "%s=%lld\n", key, v);

	EVP_DigestUpdate(m, buf, (size_t)n);
}

/*
 * Everything that changes how the check is probed or alerted on. The
 * password is represented by where it comes from, never by its value: the
 * digest may be shown, and a hash of a short password can be brute-forced.
 * Channels are named, not indexed, since indexes move between reloads.
 */
void checks_digest(const struct conf *c, struct conf_check *cc, const struct ckx *x)
{
	const struct check *k = &cc->chk;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (!m)
		return;
	EVP_DigestInit_ex(m, EVP_sha256(), NULL);
	dg_str(m, "v", "1");
	dg_str(m, "name", cc->name);
	dg_str(m, "target", k->target.url);
	dg_num(m, "interval", cc->interval_ms);
	dg_num(m, "retry", cc->retry_ms);
	dg_num(m, "fail_after", cc->fail_after);
	dg_num(m, "recover_after", cc->recover_after);
	dg_num(m, "reminder", cc->reminder_ms);
	dg_num(m, "family", k->family);
	dg_num(m, "all_addresses", k->all_addresses);
	for (int i = 0; i < k->n_resolve; i++)
		dg_str(m, "resolve", k->resolve[i]);
	dg_num(m, "starttls", k->starttls);
	dg_str(m, "expect", k->expect);
	for (int i = 0; i < k->n_expect_caps; i++)
		dg_str(m, "cap", k->expect_caps[i]);
	dg_num(m, "timeout", k->timeout_ms);
	dg_num(m, "warn_ms", k->warn_ms);
	dg_num(m, "crit_ms", k->crit_ms);
	dg_str(m, "sni", k->sni);
	dg_str(m, "ca_file", k->ca_file);
	dg_num(m, "min_tls", k->min_tls);
	dg_num(m, "insecure", k->insecure);
	dg_num(m, "cert_warn", k->cert_warn_days);
	dg_num(m, "cert_crit", k->cert_crit_days);
	dg_num(m, "cert_life", k->cert_life_rule);
	dg_str(m, "login", k->login);
	dg_str(m, "password_from", k->login ? x->pw_src : NULL);
	dg_num(m, "plaintext", k->allow_plaintext_auth);
	dg_num(m, "posture", k->posture);
	for (int i = 0; i < cc->nlabels; i++)
		dg_str(m, "label", cc->labels[i]);
	for (int i = 0; i < cc->nroutes; i++) {
		const struct conf_route *r = &cc->routes[i];

		dg_str(m, "route", c->channels[r->channel].name);
		dg_num(m, "recovery", r->recovery);
		for (int j = 0; j < r->nreasons; j++)
			dg_num(m, "reason", r->reasons[j]);
	}
	EVP_DigestFinal_ex(m, md, &len);
	EVP_MD_CTX_free(m);
	for (unsigned i = 0; i < len && i < 32; i++)
		snprintf(cc->digest + 2 * i, 3, "%02x", md[i]);
}
