/* SPDX-License-Identifier: ISC */
/*
 * dump.c - the effective configuration as YAML, every default filled in
 * and secrets shown as (set), for `mailpulse config check -v`.
 */
#include "conf/conf_int.h"

#include <stdio.h>
#include <string.h>

#include "core/line.h"

/* A YAML scalar that reads back as the same string. */
static void put_scalar(FILE *f, const char *s)
{
	int plain = *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                            "0123456789._/@+-=") == strlen(s);
	char buf[1024];

	if (plain && strchr("-.", s[0]) == NULL) {
		fputs(s, f);
		return;
	}
	line_escape(buf, sizeof(buf), s, strlen(s));
	fputc('"', f);
	for (const char *p = buf; *p; p++) {
		if (*p == '"')
			fputc('\\', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

static void kv(FILE *f, const char *ind, const char *key, const char *v)
{
	if (!v)
		return;
	fprintf(f, "%s%s: ", ind, key);
	put_scalar(f, v);
	fputc('\n', f);
}

/* Whether a secret is there, never what it is. */
static void secret(FILE *f, const char *ind, const char *key, const char *v)
{
	if (v)
		fprintf(f, "%s%s: (set)\n", ind, key);
}

static void list(FILE *f, const char *ind, const char *key, const char *const *v, int n)
{
	if (n <= 0)
		return;
	fprintf(f, "%s%s: [", ind, key);
	for (int i = 0; i < n; i++) {
		fputs(i ? ", " : "", f);
		put_scalar(f, v[i]);
	}
	fputs("]\n", f);
}

/* Webhook URLs of chat services are bearer tokens: show the host only. */
static void put_url(FILE *f, const char *ind, const char *key, const char *u, int secret)
{
	char buf[300];
	const char *h;

	if (!u)
		return;
	if (!secret || !(h = strstr(u, "://"))) {
		kv(f, ind, key, u);
		return;
	}
	h += 3;
	snprintf(buf, sizeof(buf), "%.*s/(set)", (int)(strcspn(h, "/") + (size_t)(h - u)), u);
	kv(f, ind, key, buf);
}

static void dump_time(FILE *f, const char *ind, const char *key, int64_t t)
{
	int64_t day = t / 86400 - (t % 86400 < 0), z = day + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
	int64_t sod = t - day * 86400;

	fprintf(f, "%s%s: %04lld-%02u-%02uT%02d:%02d:%02dZ\n", ind, key, (long long)y, m, d,
	        (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
}

void conf_dump(const struct conf *c, FILE *f)
{
	static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

	fprintf(f, "# %s, effective configuration; secrets are shown as (set)\n", c->path);
	kv(f, "", "location", c->location);
	if (c->store_secret) {
		fputs("store:\n", f);
		kv(f, "  ", "dsn", c->store_path);
		kv(f, "  ", "password_file", c->store_secret);
	} else {
		kv(f, "", "store", c->store_path);
	}
	fprintf(f, "retention: {raw_days: %u, rollup_days: %u}\n", c->raw_days, c->rollup_days);
	fputs("http:\n", f);
	kv(f, "  ", "listen", c->listen);
	kv(f, "  ", "dashboard_url", c->dashboard_url);
	secret(f, "  ", "token", c->http_token);
	kv(f, "  ", "tls_cert", c->http_tls_cert);
	kv(f, "  ", "tls_key", c->http_tls_key);
	fprintf(f, "  max_connections: %u\n  max_connections_per_address: %u\n", c->http_max_conns,
	        c->http_max_conns_per_addr);
	if (c->public_enabled) {
		fputs("  public_status:\n    enabled: true\n", f);
		kv(f, "    ", "title", c->public_title);
		list(f, "    ", "checks", (const char *const *)c->public_checks, c->npublic_checks);
	}
	fprintf(f, "max_in_flight: %u\n", c->max_in_flight);
	if (c->nchannels)
		fputs("channels:\n", f);
	for (int i = 0; i < c->nchannels; i++) {
		const struct conf_channel *ch = &c->channels[i];
		int chat = ch->type == CH_SLACK || ch->type == CH_MATTERMOST ||
		           ch->type == CH_DISCORD || ch->type == CH_TEAMS;

		kv(f, "  - ", "name", ch->name);
		kv(f, "    ", "type", conf_channel_type_name(ch->type));
		put_url(f, "    ", "url", ch->url, chat);
		secret(f, "    ", "secret", ch->secret);
		kv(f, "    ", "ca_file", ch->ca_file);
		if (ch->type == CH_EMAIL) {
			kv(f, "    ", "smtp", ch->smtp_url);
			fprintf(f, "    starttls: %s\n", ch->smtp_starttls ? "true" : "false");
			kv(f, "    ", "user", ch->smtp_user);
			secret(f, "    ", "password", ch->smtp_password);
			kv(f, "    ", "from", ch->from);
			list(f, "    ", "to", (const char *const *)ch->to, ch->nto);
		}
		secret(f, "    ", "token", ch->bot_token);
		kv(f, "    ", "chat_id", ch->chat_id);
		if (ch->type == CH_TEAMS)
			kv(f, "    ", "format",
			   ch->teams_format == TEAMS_MESSAGECARD ? "messagecard" : "adaptive");
		secret(f, "    ", "routing_key", ch->routing_key);
		if (ch->argv[0]) {
			int n = 0;

			while (ch->argv[n])
				n++;
			list(f, "    ", "command", (const char *const *)ch->argv, n);
		}
		fprintf(f, "    timeout: %s\n    retries: %u\n", conf_dur(ch->timeout_ms).s,
		        ch->retries);
	}
	if (c->nnodes)
		fputs("nodes:\n", f);
	for (int i = 0; i < c->nnodes; i++) {
		kv(f, "  - ", "name", c->nodes[i].name);
		secret(f, "    ", "token", c->nodes[i].token);
		kv(f, "    ", "region", c->nodes[i].region);
	}
	if (c->nnodes) {
		/* Where node alerts go, as resolved: every channel when the key was absent. */
		fputs("node_notify: [", f);
		for (int i = 0; i < c->nnode_channels; i++) {
			fputs(i ? ", " : "", f);
			put_scalar(f, c->channels[c->node_channels[i]].name);
		}
		fputs("]\n", f);
	}
	if (c->nwindows)
		fputs("maintenance:\n", f);
	for (int i = 0; i < c->nwindows; i++) {
		const struct conf_window *w = &c->windows[i];

		kv(f, "  - ", "name", w->name);
		if (w->weekly) {
			const char *d[7];
			int n = 0;

			for (int k = 0; k < 7; k++)
				if (w->days_mask >> k & 1)
					d[n++] = days[k];
			list(f, "    ", "weekly", d, n);
			fprintf(f, "    from: \"%02d:%02d\"\n    to: \"%02d:%02d\"\n",
			        w->start_min / 60, w->start_min % 60, w->end_min / 60,
			        w->end_min % 60);
		} else {
			dump_time(f, "    ", "start", w->start);
			dump_time(f, "    ", "end", w->end);
		}
		list(f, "    ", "checks", (const char *const *)w->checks, w->nchecks);
	}
	fputs("checks:\n", f);
	for (int i = 0; i < c->nchecks; i++) {
		const struct conf_check *cc = &c->checks[i];
		const struct check *k = &cc->chk;

		kv(f, "  - ", "name", cc->name);
		kv(f, "    ", "url", k->target.url);
		fprintf(f, "    interval: %s\n", conf_dur(cc->interval_ms).s);
		fprintf(f, "    timeout: %s\n", conf_dur(k->timeout_ms).s);
		fprintf(f, "    retry: %s\n", conf_dur(cc->retry_ms).s);
		fprintf(f, "    fail_after: %u\n    recover_after: %u\n", cc->fail_after,
		        cc->recover_after);
		fprintf(f, "    reminder: %s\n", conf_dur(cc->reminder_ms).s);
		fprintf(f, "    starttls: %s\n",
		        checkspec_value_name("starttls", (int)k->starttls));
		kv(f, "    ", "expect", k->expect);
		list(f, "    ", "expect_capabilities", k->expect_caps, k->n_expect_caps);
		fprintf(f, "    warn_ms: %u\n    crit_ms: %u\n", k->warn_ms, k->crit_ms);
		kv(f, "    ", "sni", k->sni);
		kv(f, "    ", "ca_file", k->ca_file);
		fprintf(f, "    min_tls: \"%s\"\n", checkspec_value_name("min_tls", k->min_tls));
		fprintf(f, "    insecure: %s\n", k->insecure ? "true" : "false");
		fprintf(f, "    all_addresses: %s\n", k->all_addresses ? "true" : "false");
		fprintf(f, "    family: %s\n", checkspec_value_name("family", k->family));
		list(f, "    ", "resolve", k->resolve, k->n_resolve);
		fprintf(f, "    cert_warn_days: %d\n    cert_crit_days: %d\n", k->cert_warn_days,
		        k->cert_crit_days);
		fprintf(f, "    cert_lifetime_rule: %s\n", k->cert_life_rule ? "true" : "false");
		kv(f, "    ", "login", k->login);
		secret(f, "    ", "password", k->password);
		fprintf(f, "    allow_plaintext_auth: %s\n",
		        k->allow_plaintext_auth ? "true" : "false");
		fprintf(f, "    posture: %s\n", checkspec_value_name("posture", (int)k->posture));
		list(f, "    ", "labels", (const char *const *)cc->labels, cc->nlabels);
		list(f, "    ", "locations", (const char *const *)cc->locations, cc->nlocations);
		fprintf(f, "    quorum: %u\n", cc->quorum);
		if (k->login)
			fprintf(f, "    password_to_nodes: %s\n",
			        cc->password_to_nodes ? "true" : "false");
		/* Only a check with several locations can be partial: only there does it say. */
		if (cc->nlocations > 1)
			fprintf(f, "    notify_partial: %s\n",
			        cc->notify_partial ? "true" : "false");
		if (cc->nroutes)
			fputs("    notify:\n", f);
		for (int r = 0; r < cc->nroutes; r++) {
			const struct conf_route *rt = &cc->routes[r];

			fputs("      - {channel: ", f);
			put_scalar(f, c->channels[rt->channel].name);
			if (rt->nreasons) {
				fputs(", reasons: [", f);
				for (int j = 0; j < rt->nreasons; j++)
					fprintf(f, "%s%s", j ? ", " : "",
					        result_reason_name((enum mp_reason)rt->reasons[j]));
				fputc(']', f);
			}
			fprintf(f, ", recovery: %s}\n", rt->recovery ? "true" : "false");
		}
		fprintf(f, "    digest: %s\n", cc->digest);
	}
}
