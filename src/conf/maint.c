/* SPDX-License-Identifier: ISC */
/*
 * maint.c - maintenance windows: one-off (start, end) or weekly (days,
 * from, to, UTC), over check names or label selectors; and which window
 * covers a check at a given time.
 */
#include "conf/conf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec/isotime.h"

static int parse_hhmm(const char *s, int allow_24)
{
	int h, m;

	if (strlen(s) != 5 || s[2] != ':' || strspn(s, "0123456789:") != 5)
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m || !allow_24)))
		return -1;
	return h * 60 + m;
}

static void fn_weekly(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
	struct conf_window *w = s->base;
	yaml_node_t *it[14];
	int n = conf_items(l, v, it, 14, k->name);

	w->weekly = 1;
	w->days_mask = 0;
	for (int i = 0; i < n; i++) {
		const char *a = conf_scalar(it[i]);
		char lo[8] = "", hi[8] = "";
		int from = -1, to = -1;

		if (a && strlen(a) <= 15 && sscanf(a, "%7[a-zA-Z]-%7[a-zA-Z]", lo, hi) >= 1) {
			for (int d = 0; d < 7; d++) {
				/* "tue" and "tuesday" alike. */
				if (strncasecmp(lo, days[d], 3) == 0)
					from = d;
				if (strncasecmp(hi, days[d], 3) == 0)
					to = d;
			}
			if (!hi[0])
				to = from;
			if (strlen(a) != strlen(lo) + (hi[0] ? strlen(hi) + 1 : 0))
				from = -1;
		}
		if (from < 0 || to < 0) {
			conf_err_at(l, it[i],
			            "weekly: \"%s\" is not a day (sun, mon, ... sat) or a range "
			            "such as mon-fri",
			            a ? conf_show(a).s : conf_kind(it[i]));
			continue;
		}
		for (int d = from;; d = (d + 1) % 7) {
			w->days_mask |= 1u << d;
			if (d == to)
				break;
		}
	}
}

static void fn_hhmm(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_window *w = s->base;
	const char *a = conf_scalar(v);
	int m = a ? parse_hhmm(a, strcmp(k->name, "to") == 0) : -1;

	if (m < 0) {
		conf_err_at(l, v, "%s: \"%s\" is not a time of day as HH:MM (UTC)", k->name,
		            a ? conf_show(a).s : conf_kind(v));
		return;
	}
	if (strcmp(k->name, "from") == 0)
		w->start_min = m;
	else
		w->end_min = m;
}

static void fn_time(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_window *w = s->base;
	const char *a = conf_scalar(v);
	int64_t t;

	/* Seconds, as the windows are kept; a time of day and a zone are required. */
	if (!a || isotime_parse(a, ISOTIME_NEED_ZONE, &t) < 0) {
		conf_err_at(l, v, "%s: \"%s\" is not a time such as 2026-12-01T22:00:00Z", k->name,
		            a ? conf_show(a).s : conf_kind(v));
		return;
	}
	t = t >= 0 ? t / 1000 : -((-t + 999) / 1000);
	if (strcmp(k->name, "start") == 0)
		w->start = t;
	else
		w->end = t;
}

static void fn_selectors(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_window *w = s->base;
	yaml_node_t *it[CONF_LABELS_MAX];
	int n = conf_items(l, v, it, CONF_LABELS_MAX, k->name);

	w->nchecks = 0;
	for (int i = 0; i < n; i++) {
		const char *a = conf_scalar(it[i]), *eq;

		if (!a || conf_is_null(it[i])) {
			conf_err_at(l, it[i],
			            "checks: expected a check name or key=value, found %s",
			            conf_kind(it[i]));
			continue;
		}
		eq = strchr(a, '=');
		if (eq) {
			char key[CONF_NAME_MAX + 2];

			if ((size_t)(eq - a) > CONF_NAME_MAX || eq == a ||
			    !conf_label_value_ok(eq + 1)) {
				conf_err_at(l, it[i],
				            "checks: \"%s\" is not a label selector key=value",
				            conf_show(a).s);
				continue;
			}
			snprintf(key, sizeof(key), "%.*s", (int)(eq - a), a);
			if (conf_check_name(l, it[i], "label", key) < 0)
				continue;
		} else if (conf_check_name(l, it[i], "check name", a) < 0) {
			continue;
		} else if (!conf_find_check(l->c, a)) {
			conf_xerr(l, conf_pos_of(it[i]), "maintenance: no check is named \"%s\"",
			          conf_show(a).s);
			continue;
		}
		w->checks[w->nchecks++] = conf_strdup(l->c, a);
	}
}

#define WN(m) FIELD(struct conf_window, m)
static const struct key window_keys[] = {
    {"name", K_NAME, WN(name), 0, 0, NULL, NULL, 0, 0},
    {"weekly", K_FN, 0, 0, 0, 0, NULL, fn_weekly, 0, 0},
    {"from", K_FN, 0, 0, 0, 0, NULL, fn_hhmm, 0, 0},
    {"to", K_FN, 0, 0, 0, 0, NULL, fn_hhmm, 0, 0},
    {"start", K_FN, 0, 0, 0, 0, NULL, fn_time, 0, 0},
    {"end", K_FN, 0, 0, 0, 0, NULL, fn_time, 0, 0},
    {"checks", K_FN, 0, 0, 0, 0, NULL, fn_selectors, 0, 0},
};

void maint_load(struct ld *l, yaml_node_t *v)
{
	struct conf *c = l->c;
	yaml_node_item_t *it;
	int n;

	if (v->type != YAML_SEQUENCE_NODE) {
		if (!conf_is_null(v))
			conf_err_at(l, v, "maintenance: expected a list of windows, found %s",
			            conf_kind(v));
		return;
	}
	n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
	c->windows = calloc((size_t)n + 1, sizeof(*c->windows));
	l->win_at = calloc((size_t)n + 1, sizeof(*l->win_at));
	if (!c->windows || !l->win_at) {
		l->oom = 1;
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = conf_node(l, *it), *nn;
		struct conf_window *w = &c->windows[c->nwindows];
		struct section s;
		struct pos p;
		int weekly, oneoff;

		if (!conf_visit(l, e))
			return;
		if (e->type != YAML_MAPPING_NODE) {
			conf_err_at(l, e,
			            "maintenance: each window is a mapping (name, ...), found %s",
			            conf_kind(e));
			continue;
		}
		w->line = conf_pos_of(e).line;
		nn = conf_map_get(l, e, "name");
		if (conf_scalar(nn) && !conf_is_null(nn))
			conf_section_init(&s, window_keys, NKEYS(window_keys), w,
			                  "maintenance window \"%s\"",
			                  conf_show(conf_scalar(nn)).s);
		else
			conf_section_init(&s, window_keys, NKEYS(window_keys), w,
			                  "maintenance window number %d", c->nwindows + 1);
		conf_walk(l, &s, e);
		p = conf_pos_of(e);
		l->win_at[c->nwindows] = s.at[0];
		if (!conf_has(&s, "name"))
			conf_err_pos(l, p, "%s needs a name", s.what);
		weekly = conf_has(&s, "weekly") || conf_has(&s, "from") || conf_has(&s, "to");
		oneoff = conf_has(&s, "start") || conf_has(&s, "end");
		if (weekly && oneoff)
			conf_err_pos(
			    l, p, "%s: give either weekly, from and to, or start and end; not both",
			    s.what);
		else if (weekly &&
		         !(conf_has(&s, "weekly") && conf_has(&s, "from") && conf_has(&s, "to")))
			conf_err_pos(l, p, "%s: a weekly window needs weekly, from and to", s.what);
		else if (oneoff && !(conf_has(&s, "start") && conf_has(&s, "end")))
			conf_err_pos(l, p, "%s: a one-off window needs start and end", s.what);
		else if (!weekly && !oneoff)
			conf_err_pos(l, p, "%s: give either weekly, from and to, or start and end",
			             s.what);
		else if (weekly && w->days_mask && w->start_min == w->end_min)
			conf_err_pos(l, conf_at(&s, "to"),
			             "%s: from and to are equal: the window is empty", s.what);
		else if (oneoff && w->end <= w->start && w->start && w->end)
			conf_err_pos(l, conf_at(&s, "end"), "%s: end is not after start", s.what);
		w->weekly = weekly;
		c->nwindows++;
	}
}

static int window_covers(const struct conf_window *w, const struct conf_check *cc)
{
	if (w->nchecks == 0)
		return 1;
	for (int i = 0; i < w->nchecks; i++) {
		if (strchr(w->checks[i], '=')) {
			for (int j = 0; j < cc->nlabels; j++)
				if (strcmp(cc->labels[j], w->checks[i]) == 0)
					return 1;
		} else if (cc->name && strcmp(cc->name, w->checks[i]) == 0) {
			return 1;
		}
	}
	return 0;
}

const struct conf_window *conf_maintenance(const struct conf *c, const struct conf_check *cc,
                                           int64_t now, int64_t *until)
{
	int64_t day = now / 86400, end, best_end = 0;
	const struct conf_window *best = NULL;

	if (now % 86400 < 0)
		day--;
	/* 1970-01-01 was a Thursday (4). */
	int dow = (int)(((day + 4) % 7 + 7) % 7), prev = (dow + 6) % 7;
	int min = (int)((now - day * 86400) / 60);

	for (int i = 0; i < c->nwindows; i++) {
		const struct conf_window *w = &c->windows[i];

		if (!window_covers(w, cc))
			continue;
		if (!w->weekly) {
			if (!(now >= w->start && now < w->end))
				continue;
			end = w->end;
		} else if (w->start_min < w->end_min) {
			if (!((w->days_mask >> dow & 1) && min >= w->start_min && min < w->end_min))
				continue;
			end = day * 86400 + w->end_min * 60;
		} else if ((w->days_mask >> dow & 1) && min >= w->start_min) {
			/* Spans midnight: the day named is the one it starts on. */
			end = (day + 1) * 86400 + w->end_min * 60;
		} else if ((w->days_mask >> prev & 1) && min < w->end_min) {
			end = day * 86400 + w->end_min * 60;
		} else {
			continue;
		}
		if (!best || end > best_end) {
			best = w;
			best_end = end;
		}
	}
	if (until)
		*until = best ? best_end : 0;
	return best;
}

int conf_in_maintenance(const struct conf *c, const struct conf_check *cc, int64_t now)
{
	return conf_maintenance(c, cc, now, NULL) != NULL;
}
