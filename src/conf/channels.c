/* SPDX-License-Identifier: ISC */
/*
 * channels.c - notification channels: one table of keys for every type,
 * each row saying which types it applies to, then what each type needs.
 */
#include "conf/conf_int.h"

#include <string.h>
#include <strings.h>

#include "spec/secret.h"

static const struct enumv channel_types[] = {
    {"webhook", CH_WEBHOOK},   {"email", CH_EMAIL},
    {"slack", CH_SLACK},       {"mattermost", CH_MATTERMOST},
    {"discord", CH_DISCORD},   {"teams", CH_TEAMS},
    {"telegram", CH_TELEGRAM}, {"pagerduty", CH_PAGERDUTY},
    {"command", CH_COMMAND},   {NULL, 0},
};

const char *conf_channel_type_name(enum channel_type t)
{
	for (const struct enumv *e = channel_types; e->name; e++)
		if (e->value == (int)t)
			return e->name;
	return "unknown";
}

#define T(x) (1u << (x))
#define T_HOOKS                                                                                    \
	(T(CH_WEBHOOK) | T(CH_SLACK) | T(CH_MATTERMOST) | T(CH_DISCORD) | T(CH_TEAMS) |            \
	 T(CH_TELEGRAM) | T(CH_PAGERDUTY))

static void fn_noop(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	(void)l;
	(void)s;
	(void)k;
	(void)v;
}

static void fn_smtp(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_channel *ch = s->base;
	const char *u = conf_scalar(v), *h;

	if (!u || conf_is_null(v)) {
		conf_err_at(l, v, "%s: expected an smtp:// or smtps:// URL, found %s", k->name,
		            conf_kind(v));
		return;
	}
	if (strncasecmp(u, "smtps://", 8) == 0)
		h = u + 8;
	else if (strncasecmp(u, "smtp://", 7) == 0)
		h = u + 7;
	else {
		conf_err_at(l, v, "%s: \"%s\" is not an smtp:// or smtps:// URL", k->name,
		            conf_show(u).s);
		return;
	}
	if (strchr(u, '@')) {
		conf_err_at(l, v,
		            "%s: credentials in URLs are not accepted: use user and password_file",
		            k->name);
		return;
	}
	if (!*h || *h == '/' || *h == ':' || checkspec_has_control(u) || strchr(u, ' ')) {
		conf_err_at(l, v, "%s: \"%s\" has no host", k->name, conf_show(u).s);
		return;
	}
	ch->smtp_url = conf_strdup(l->c, u);
}

static int is_mail_address(const char *s)
{
	const char *at = strchr(s, '@');

	return at && at != s && at[1] && !strchr(at + 1, '@') && !checkspec_has_control(s) &&
	       !strpbrk(s, " <>,;\"");
}

static void fn_from(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_channel *ch = s->base;
	const char *a = conf_scalar(v);

	if (!a || conf_is_null(v)) {
		conf_err_at(l, v, "%s: expected a mail address, found %s", k->name, conf_kind(v));
		return;
	}
	if (!is_mail_address(a)) {
		conf_err_at(l, v, "%s: \"%s\" is not a mail address (user@domain)", k->name,
		            conf_show(a).s);
		return;
	}
	ch->from = conf_strdup(l->c, a);
}

static void fn_to(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_channel *ch = s->base;
	yaml_node_t *it[CONF_TO_MAX];
	int n = conf_items(l, v, it, CONF_TO_MAX, k->name);

	ch->nto = 0;

	for (int i = 0; i < n; i++) {
		const char *a = conf_scalar(it[i]);

		if (!a || !is_mail_address(a)) {
			conf_err_at(l, it[i], "%s: \"%s\" is not a mail address (user@domain)",
			            k->name, a ? conf_show(a).s : conf_kind(it[i]));
			continue;
		}
		ch->to[ch->nto++] = conf_strdup(l->c, a);
	}
}

static void fn_command(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_channel *ch = s->base;
	yaml_node_t *it[CONF_ARGV_MAX];
	int n = conf_items(l, v, it, CONF_ARGV_MAX, k->name), argc = 0;

	for (int i = 0; i < n; i++) {
		const char *a = conf_scalar(it[i]);

		if (!a || conf_is_null(it[i])) {
			conf_err_at(l, it[i], "%s: each argument must be a single value, found %s",
			            k->name, conf_kind(it[i]));
			continue;
		}
		if (i == 0 && a[0] != '/') {
			/* No PATH search: what runs must not depend on the daemon's environment. */
			conf_err_at(l, it[i], "%s: \"%s\" is not an absolute path", k->name,
			            conf_show(a).s);
			continue;
		}
		ch->argv[argc++] = conf_strdup(l->c, a);
	}
	ch->argv[argc] = NULL;
	if (n == 0)
		conf_err_at(l, v, "%s: the list is empty: give the program and its arguments",
		            k->name);
}

static void fn_chat_id(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_channel *ch = s->base;
	const char *a = conf_scalar(v);

	if (!a || conf_is_null(v)) {
		conf_err_at(l, v, "%s: expected a chat id, found %s", k->name, conf_kind(v));
		return;
	}
	/* A numeric id (negative for groups) or @channelname. */
	if (!(a[0] == '@' ? a[1] && checkspec_is_host_name(a + 1)
	                  : (a[a[0] == '-'] && strspn(a + (a[0] == '-'), "0123456789") ==
	                                           strlen(a + (a[0] == '-'))))) {
		conf_err_at(l, v, "%s: \"%s\" is not a chat id (a number, or @channel)", k->name,
		            conf_show(a).s);
		return;
	}
	ch->chat_id = conf_strdup(l->c, a);
}

static const struct enumv teams_formats[] = {
    {"adaptive", TEAMS_ADAPTIVE}, {"messagecard", TEAMS_MESSAGECARD}, {NULL, 0}};

#define CH(m) FIELD(struct conf_channel, m)
static const struct key channel_keys[] = {
    {"name", K_FN, 0, 0, 0, 0, NULL, fn_noop, 0, 0},
    {"type", K_FN, 0, 0, 0, 0, NULL, fn_noop, 0, 0},
    {"url", K_FN, CH(url), 0, 0, NULL, top_http_url, 0, T_HOOKS},
    {"ca_file", K_FILE, CH(ca_file), 0, 0, NULL, NULL, 0, T_HOOKS | T(CH_EMAIL)},
    {"secret_file", K_SECRET_FILE, CH(secret), 0, 0, NULL, NULL, 0, T(CH_WEBHOOK)},
    {"secret_env", K_SECRET_ENV, CH(secret), 0, 0, NULL, NULL, 0, T(CH_WEBHOOK)},
    {"secret", K_INLINE, 0, 0, 0, 0, NULL, NULL, KF_HIDDEN, 0},
    {"smtp", K_FN, 0, 0, 0, 0, NULL, fn_smtp, 0, T(CH_EMAIL)},
    {"starttls", K_BOOL, CH(smtp_starttls), 0, 0, NULL, NULL, 0, T(CH_EMAIL)},
    {"user", K_STR, CH(smtp_user), 0, 256, NULL, NULL, 0, T(CH_EMAIL)},
    {"password_file", K_SECRET_FILE, CH(smtp_password), 0, 0, NULL, NULL, 0, T(CH_EMAIL)},
    {"password_env", K_SECRET_ENV, CH(smtp_password), 0, 0, NULL, NULL, 0, T(CH_EMAIL)},
    {"password", K_INLINE, 0, 0, 0, 0, NULL, NULL, KF_HIDDEN, 0},
    {"from", K_FN, 0, 0, 0, 0, NULL, fn_from, 0, T(CH_EMAIL)},
    {"to", K_FN, 0, 0, 0, 0, NULL, fn_to, 0, T(CH_EMAIL)},
    {"token_file", K_SECRET_FILE, CH(bot_token), 0, 0, NULL, NULL, 0, T(CH_TELEGRAM)},
    {"token_env", K_SECRET_ENV, CH(bot_token), 0, 0, NULL, NULL, 0, T(CH_TELEGRAM)},
    {"token", K_INLINE, 0, 0, 0, 0, NULL, NULL, KF_HIDDEN, 0},
    {"chat_id", K_FN, 0, 0, 0, 0, NULL, fn_chat_id, 0, T(CH_TELEGRAM)},
    {"format", K_ENUM, CH(teams_format), 0, 0, teams_formats, NULL, 0, T(CH_TEAMS)},
    {"routing_key_file", K_SECRET_FILE, CH(routing_key), 0, 0, NULL, NULL, 0, T(CH_PAGERDUTY)},
    {"routing_key_env", K_SECRET_ENV, CH(routing_key), 0, 0, NULL, NULL, 0, T(CH_PAGERDUTY)},
    {"routing_key", K_INLINE, 0, 0, 0, 0, NULL, NULL, KF_HIDDEN, 0},
    {"command", K_FN, 0, 0, 0, 0, NULL, fn_command, 0, T(CH_COMMAND)},
    {"timeout", K_DUR, CH(timeout_ms), 1000, 300000, NULL, NULL, 0, 0},
    {"retries", K_UINT, CH(retries), 0, 20, NULL, NULL, 0, 0},
};

/* What each type cannot work without. */
static void channel_required(struct ld *l, struct section *s, struct conf_channel *ch,
                             struct pos start)
{
	static const struct {
		unsigned types;
		const char *keys;
		const char *what;
	} req[] = {
	    {T(CH_WEBHOOK) | T(CH_SLACK) | T(CH_MATTERMOST) | T(CH_DISCORD) | T(CH_TEAMS), "url",
	     "url"},
	    /* A webhook's secret is optional: without it, requests go unsigned. */
	    {T(CH_EMAIL), "smtp", "smtp"},
	    {T(CH_EMAIL), "from", "from"},
	    {T(CH_EMAIL), "to", "to"},
	    {T(CH_TELEGRAM), "token_file token_env token", "token_file or token_env"},
	    {T(CH_TELEGRAM), "chat_id", "chat_id"},
	    {T(CH_PAGERDUTY), "routing_key_file routing_key_env routing_key",
	     "routing_key_file or routing_key_env"},
	    {T(CH_COMMAND), "command", "command"},
	};

	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		char keys[64], *save = NULL;
		int found = 0;

		if (!(req[i].types & s->types))
			continue;
		snprintf(keys, sizeof(keys), "%s", req[i].keys);
		for (char *t = strtok_r(keys, " ", &save); t; t = strtok_r(NULL, " ", &save))
			found |= conf_has(s, t);
		if (!found)
			conf_err_pos(l, start, "%s (%s) needs %s", s->what,
			             conf_channel_type_name(ch->type), req[i].what);
	}
	if (ch->type == CH_EMAIL &&
	    conf_has(s, "user") != (conf_has(s, "password_file") || conf_has(s, "password_env") ||
	                            conf_has(s, "password")))
		conf_err_pos(l, start, "%s: user and password_file (or password_env) go together",
		             s->what);
}

void channels_load(struct ld *l, yaml_node_t *v)
{
	yaml_node_item_t *it;
	int n;

	if (v->type != YAML_SEQUENCE_NODE) {
		if (!conf_is_null(v))
			conf_err_at(l, v, "channels: expected a list of channels, found %s",
			            conf_kind(v));
		return;
	}
	n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
	l->c->channels = calloc((size_t)n + 1, sizeof(*l->c->channels));
	l->ch_at = calloc((size_t)n + 1, sizeof(*l->ch_at));
	if (!l->c->channels || !l->ch_at) {
		l->oom = 1;
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = conf_node(l, *it), *nn, *tn;
		struct conf_channel *ch = &l->c->channels[l->c->nchannels];
		struct section s;
		const char *name, *type;

		if (!conf_visit(l, e))
			return;
		if (e->type != YAML_MAPPING_NODE) {
			conf_err_at(
			    l, e, "channels: each channel is a mapping (name, type, ...), found %s",
			    conf_kind(e));
			continue;
		}
		ch->type = CH_WEBHOOK;
		ch->smtp_starttls = 1;
		ch->timeout_ms = 10000;
		ch->retries = 5;
		ch->line = conf_pos_of(e).line;
		nn = conf_map_get(l, e, "name");
		tn = conf_map_get(l, e, "type");
		name = conf_scalar(nn);
		if (name && !conf_is_null(nn)) {
			if (conf_check_name(l, nn, "channel name", name) < 0)
				name = NULL;
			/* Kept even when invalid, so notify lists do not add noise. */
			ch->name = conf_strdup(l->c, conf_scalar(nn));
			l->ch_at[l->c->nchannels] = conf_pos_of(nn);
		} else {
			conf_err_at(l, nn ? nn : e, "channel without a name");
		}
		if (name)
			conf_section_init(&s, channel_keys, NKEYS(channel_keys), ch,
			                  "channel \"%s\"", name);
		else
			conf_section_init(&s, channel_keys, NKEYS(channel_keys), ch,
			                  "channel number %d", l->c->nchannels + 1);
		s.types = 0;
		type = conf_scalar(tn);
		if (!tn) {
			conf_err_at(l, e,
			            "%s needs a type: webhook, email, slack, mattermost, discord, "
			            "teams, telegram, pagerduty or command",
			            s.what);
		} else {
			const struct enumv *ty;

			for (ty = channel_types; ty->name; ty++)
				if (type && strcmp(type, ty->name) == 0)
					break;
			if (ty->name) {
				ch->type = (enum channel_type)ty->value;
				s.types = T(ty->value);
			} else {
				conf_err_at(
				    l, tn,
				    "type: \"%s\" is not one of webhook, email, slack, mattermost, "
				    "discord, teams, telegram, pagerduty, command",
				    type ? conf_show(type).s : conf_kind(tn));
			}
		}
		conf_walk(l, &s, e);
		if (s.types)
			channel_required(l, &s, ch, conf_pos_of(e));
		l->c->nchannels++;
	}
}

_Static_assert(NKEYS(channel_keys) <= KEYS_MAX, "set masks are 64 bits");
