/* SPDX-License-Identifier: ISC */
/*
 * checkspec.c - the one builder and validator of a struct check (see
 * checkspec.h).
 *
 * One table row per key: its two spellings and its type. One validator per
 * type. Where the command line and the configuration word a message
 * differently, or spell a value differently (--timeout 0.5 against
 * timeout: 30s), the row's type decides by the source; what is accepted
 * is otherwise the same for every source.
 */
#include "spec/checkspec.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/tls1.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/line.h"
#include "spec/duration.h"
#include "spec/secret.h"

#define CHECKSPEC_LOGIN_MAX 256
#define CHECKSPEC_PATH_MAX  4000
/* A relative file name and the configuration's directory before it. */
#define CHECKSPEC_PATHBUF (CHECKSPEC_PATH_MAX + 8192)

enum checkspec_type {
	CS_URL,
	CS_TIMEOUT,
	CS_ENUM,
	CS_EXPECT,
	CS_CAP,
	CS_MS,
	CS_HOST,
	CS_FILE,
	CS_TLS,
	CS_BOOL,
	CS_ADDR,
	CS_DAYS,
	CS_LOGIN,
	CS_PWFILE,
	CS_PWENV,
};

struct checkspec_enumv {
	const char *name;
	int value;
};

static const struct checkspec_enumv checkspec_starttls[] = {
    {"no", STARTTLS_NO}, {"auto", STARTTLS_AUTO}, {"require", STARTTLS_REQUIRE}, {NULL, 0}};
static const struct checkspec_enumv checkspec_postures[] = {
    {"report", POSTURE_REPORT}, {"warn", POSTURE_WARN}, {NULL, 0}};
static const struct checkspec_enumv checkspec_families[] = {
    {"any", AF_UNSPEC}, {"ipv4", AF_INET}, {"ipv6", AF_INET6}, {NULL, 0}};
/* The one table of TLS versions: parsing, and the effective-config dump. */
static const struct checkspec_enumv checkspec_tls[] = {{"1.0", TLS1_VERSION},
                                                       {"1.1", TLS1_1_VERSION},
                                                       {"1.2", TLS1_2_VERSION},
                                                       {"1.3", TLS1_3_VERSION},
                                                       {NULL, 0}};

#define CS_FIELD(m) offsetof(struct check, m)

struct checkspec_key {
	const char *key;  /* CHECKSPEC_KEYS */
	const char *flag; /* CHECKSPEC_FLAGS; NULL: no such flag */
	enum checkspec_type type;
	size_t off; /* the field, for the typed ones */
	const struct checkspec_enumv *enums;
};

static const struct checkspec_key checkspec_keys[] = {
    {"url", NULL, CS_URL, 0, NULL},
    {"timeout", "--timeout", CS_TIMEOUT, CS_FIELD(timeout_ms), NULL},
    {"starttls", "--starttls", CS_ENUM, CS_FIELD(starttls), checkspec_starttls},
    {"expect", "--expect", CS_EXPECT, CS_FIELD(expect), NULL},
    {"expect_capabilities", "--expect-capability", CS_CAP, 0, NULL},
    {"warn_ms", "--warn-ms", CS_MS, CS_FIELD(warn_ms), NULL},
    {"crit_ms", "--crit-ms", CS_MS, CS_FIELD(crit_ms), NULL},
    {"sni", "--sni", CS_HOST, CS_FIELD(sni), NULL},
    {"ca_file", "--ca-file", CS_FILE, CS_FIELD(ca_file), NULL},
    {"min_tls", "--min-tls", CS_TLS, CS_FIELD(min_tls), checkspec_tls},
    {"insecure", "--insecure", CS_BOOL, CS_FIELD(insecure), NULL},
    {"all_addresses", "--all-addresses", CS_BOOL, CS_FIELD(all_addresses), NULL},
    {"family", NULL, CS_ENUM, CS_FIELD(family), checkspec_families},
    {"resolve", NULL, CS_ADDR, 0, NULL},
    {"cert_warn_days", "--cert-warn", CS_DAYS, CS_FIELD(cert_warn_days), NULL},
    {"cert_crit_days", "--cert-crit", CS_DAYS, CS_FIELD(cert_crit_days), NULL},
    {"cert_lifetime_rule", "--cert-lifetime", CS_BOOL, CS_FIELD(cert_life_rule), NULL},
    {"login", "--login", CS_LOGIN, CS_FIELD(login), NULL},
    {"password_file", "--password-file", CS_PWFILE, 0, NULL},
    {"password_env", NULL, CS_PWENV, 0, NULL},
    {"allow_plaintext_auth", "--allow-plaintext-auth", CS_BOOL, CS_FIELD(allow_plaintext_auth),
     NULL},
    {"posture", "--posture", CS_ENUM, CS_FIELD(posture), checkspec_postures},
};

#define CS_NKEYS (sizeof(checkspec_keys) / sizeof(checkspec_keys[0]))
_Static_assert(CS_NKEYS <= 64, "set masks are 64 bits");

/* Values go into messages escaped and cut, since they may be anything; as wide as before. */
struct checkspec_shown {
	char s[128];
};

static struct checkspec_shown checkspec_show(const struct checkspec *b, const char *v)
{
	struct checkspec_shown r;

	line_escape(r.s, b->src == CHECKSPEC_FLAGS ? 128 : 96, v, strlen(v));
	return r;
}

static int checkspec_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int checkspec_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int checkspec_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int checkspec_is_host_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	for (; *s; s++) {
		char ch = *s;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_'))
			return 0;
	}
	return 1;
}

int checkspec_url_showable(const char *u)
{
	return strlen(u) < TARGET_URL_MAX && !strpbrk(u, "@?#") && !checkspec_has_control(u);
}

int checkspec_key(const char *name)
{
	for (size_t i = 0; i < CS_NKEYS; i++)
		if (strcmp(checkspec_keys[i].key, name) == 0)
			return (int)i;
	return -1;
}

const char *checkspec_key_name(int key, enum checkspec_src src)
{
	if (key < 0 || (size_t)key >= CS_NKEYS)
		return NULL;
	return src == CHECKSPEC_FLAGS ? checkspec_keys[key].flag : checkspec_keys[key].key;
}

int checkspec_key_is_list(int key)
{
	return key >= 0 && (size_t)key < CS_NKEYS &&
	       (checkspec_keys[key].type == CS_CAP || checkspec_keys[key].type == CS_ADDR);
}

const char *checkspec_value_name(const char *key, int value)
{
	int k = checkspec_key(key);

	if (k < 0 || !checkspec_keys[k].enums)
		return "?";
	for (const struct checkspec_enumv *e = checkspec_keys[k].enums; e->name; e++)
		if (e->value == value)
			return e->name;
	return "?";
}

void checkspec_init(struct checkspec *b, struct check *chk, enum checkspec_src src,
                    checkspec_save_fn save, void *arg)
{
	memset(b, 0, sizeof(*b));
	b->chk = chk;
	b->src = src;
	b->save = save;
	b->save_arg = arg;
}

/* A key as this source spells it in messages. */
static const char *checkspec_name(const struct checkspec *b, const struct checkspec_key *k)
{
	if (b->src == CHECKSPEC_FLAGS && k->flag)
		return k->flag;
	return k->key;
}

static void *checkspec_field(const struct checkspec *b, const struct checkspec_key *k)
{
	return (char *)b->chk + k->off;
}

static int checkspec_store(struct checkspec *b, const struct checkspec_key *k, const char *v,
                           char *err, size_t errlen)
{
	char *p = b->save(b->save_arg, v, 0);

	if (!p)
		return checkspec_err(err, errlen, "out of memory");
	memcpy(checkspec_field(b, k), &p, sizeof(p));
	return 0;
}

int checkspec_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long long)(*s - '0');
		if (v > max)
			return -2;
	}
	*out = v;
	return 0;
}

/* "30", "0.5", "2.25": plain decimal seconds to milliseconds, rounded; -2: out of range. */
static int checkspec_seconds(const char *s, unsigned *ms)
{
	int digits = 0, dot = 0;
	double v;

	if (strlen(s) > 20)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (*p == '.' && !dot)
			dot = 1;
		else
			return -1;
	}
	if (!digits)
		return -1;
	/* Only digits and one dot reach strtod, so the locale and hex forms play no part. */
	v = strtod(s, NULL);
	if (v > 3600.0)
		return -2;
	*ms = (unsigned)(v * 1000.0 + 0.5);
	if (*ms < 100)
		return -2;
	return 0;
}

static int checkspec_set_timeout(struct checkspec *b, const struct checkspec_key *k, const char *v,
                                 char *err, size_t errlen)
{
	const char *nm = checkspec_name(b, k);
	char d1[32], d2[32];
	uint64_t ms;

	if (b->src == CHECKSPEC_FLAGS) {
		int r = checkspec_seconds(v, &b->chk->timeout_ms);

		if (r == -1)
			return checkspec_err(err, errlen,
			                     "%s: \"%s\" is not a number of seconds (such as 30 or "
			                     "0.5)",
			                     nm, checkspec_show(b, v).s);
		if (r == -2)
			return checkspec_err(err, errlen,
			                     "%s: %s s is out of range: 0.1 to 3600 seconds", nm,
			                     checkspec_show(b, v).s);
		return 0;
	}
	if (duration_parse_config(v, &ms) < 0)
		return checkspec_err(err, errlen,
		                     "%s: \"%s\" is not a duration (such as 90, 30s, 5m or 1h30m; "
		                     "a plain number is seconds)",
		                     nm, checkspec_show(b, v).s);
	if (ms < 1000)
		return checkspec_err(err, errlen, "%s %s is below the minimum %s", nm,
		                     duration_format(d1, sizeof(d1), ms),
		                     duration_format(d2, sizeof(d2), 1000));
	if (ms > CHECKSPEC_TIMEOUT_MAX_MS)
		return checkspec_err(err, errlen, "%s %s is above the maximum %s", nm,
		                     duration_format(d1, sizeof(d1), ms),
		                     duration_format(d2, sizeof(d2), CHECKSPEC_TIMEOUT_MAX_MS));
	b->chk->timeout_ms = (unsigned)ms;
	return 0;
}

/*
 * A whole number in min..max. The flags word it as one range; the
 * configuration as its other whole-number keys do, where 0 is "off" for
 * the millisecond thresholds (a check turning off its defaults' warn_ms).
 */
static int checkspec_set_number(struct checkspec *b, const struct checkspec_key *k, const char *v,
                                char *err, size_t errlen)
{
	const char *nm = checkspec_name(b, k);
	int ms = k->type == CS_MS;
	unsigned long long max = ms ? 3600000 : 3650, u = 0;
	int r;

	if (b->src == CHECKSPEC_FLAGS) {
		if (checkspec_uint(v, max, &u) < 0 || (ms && u == 0)) {
			if (ms)
				return checkspec_err(err, errlen,
				                     "%s: \"%s\" is not a number of milliseconds "
				                     "from 1 to 3600000",
				                     nm, checkspec_show(b, v).s);
			return checkspec_err(err, errlen,
			                     "%s: \"%s\" is not a number of days from 0 to 3650",
			                     nm, checkspec_show(b, v).s);
		}
	} else {
		r = checkspec_uint(v, 0xffffffffULL, &u);
		if (r == -1)
			return checkspec_err(err, errlen, "%s: \"%s\" is not a whole number", nm,
			                     checkspec_show(b, v).s);
		if (r == -2 || u > max)
			return checkspec_err(err, errlen, "%s %s is above the maximum %llu", nm,
			                     checkspec_show(b, v).s, max);
	}
	if (ms) {
		unsigned x = (unsigned)u;
		memcpy(checkspec_field(b, k), &x, sizeof(x));
	} else {
		int x = (int)u;
		memcpy(checkspec_field(b, k), &x, sizeof(x));
	}
	return 0;
}

static int checkspec_set_enum(struct checkspec *b, const struct checkspec_key *k, const char *v,
                              char *err, size_t errlen)
{
	char list[128] = "";
	size_t len = 0;

	for (const struct checkspec_enumv *e = k->enums; e->name; e++) {
		if (strcmp(v, e->name) == 0) {
			/* starttls, posture and family are enums or ints: all int-sized. */
			int x = e->value;
			memcpy(checkspec_field(b, k), &x, sizeof(x));
			return 0;
		}
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "",
		                        e->name);
		if (len >= sizeof(list))
			len = sizeof(list) - 1;
	}
	return checkspec_err(err, errlen, "%s: \"%s\" is not one of %s", checkspec_name(b, k),
	                     checkspec_show(b, v).s, list);
}

static int checkspec_set_tls(struct checkspec *b, const struct checkspec_key *k, const char *v,
                             char *err, size_t errlen)
{
	const char *s = v;

	if (strncasecmp(s, "tlsv", 4) == 0)
		s += 4;
	for (const struct checkspec_enumv *e = checkspec_tls; e->name; e++) {
		if (strcmp(s, e->name) == 0) {
			b->chk->min_tls = e->value;
			return 0;
		}
	}
	/* YAML reads an unquoted 1.20 as text, but a hand-written 1.2 is easy to mistype. */
	return checkspec_err(err, errlen, "%s: \"%s\" is not one of 1.0, 1.1, 1.2, 1.3%s",
	                     checkspec_name(b, k), checkspec_show(b, v).s,
	                     b->src == CHECKSPEC_KEYS ? " (quote it: \"1.2\")" : "");
}

static int checkspec_set_bool(struct checkspec *b, const struct checkspec_key *k, const char *v,
                              char *err, size_t errlen)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no",
	                                                                       "off"};

	for (size_t i = 0; i < 3; i++) {
		int x = -1;

		if (strcasecmp(v, yes[i]) == 0)
			x = 1;
		else if (strcasecmp(v, no[i]) == 0)
			x = 0;
		if (x >= 0) {
			memcpy(checkspec_field(b, k), &x, sizeof(x));
			return 0;
		}
	}
	return checkspec_err(err, errlen, "%s: \"%s\" is not true or false", checkspec_name(b, k),
	                     checkspec_show(b, v).s);
}

/*
 * Capability names: a name, or for POP3 a CAPA line's keyword and
 * arguments separated by single spaces ("SASL PLAIN"); IMAP refuses the
 * words once the URL is known (checkspec_caps_fit).
 */
static int checkspec_add_cap(struct checkspec *b, const struct checkspec_key *k, const char *v,
                             char *err, size_t errlen)
{
	struct check *c = b->chk;
	const char *nm = checkspec_name(b, k);
	char *p;

	if (!*v || checkspec_has_control(v) || v[0] == ' ' || v[strlen(v) - 1] == ' ' ||
	    strstr(v, "  ")) {
		if (b->src == CHECKSPEC_FLAGS)
			return checkspec_err(err, errlen, "%s: \"%s\" is not a capability name", nm,
			                     checkspec_show(b, v).s);
		return checkspec_err(err, errlen,
		                     "%s: \"%s\" is not a capability (a name, or for POP3 a CAPA "
		                     "line's keyword and arguments separated by single spaces)",
		                     nm, checkspec_show(b, v).s);
	}
	if (c->n_expect_caps >= CHECK_CAPS_MAX) {
		if (b->src == CHECKSPEC_FLAGS)
			return checkspec_err(err, errlen, "%s: at most %d may be given", nm,
			                     CHECK_CAPS_MAX);
		return checkspec_err(err, errlen, "%s: at most %d entries", nm, CHECK_CAPS_MAX);
	}
	p = b->save(b->save_arg, v, 0);
	if (!p)
		return checkspec_err(err, errlen, "out of memory");
	c->expect_caps[c->n_expect_caps++] = p;
	return 0;
}

/* One numeric address of the configuration's resolve list. */
static int checkspec_add_addr(struct checkspec *b, const struct checkspec_key *k, const char *v,
                              char *err, size_t errlen)
{
	struct check *c = b->chk;
	const char *nm = checkspec_name(b, k);
	char buf[TARGET_ADDR_MAX], why[160], *p;

	if (strlen(v) >= sizeof(buf) + 8)
		return checkspec_err(err, errlen,
		                     "%s: expected a numeric address, found a long value", nm);
	/* IPv4, IPv6, link-local IPv6 with a zone ("fe80::1%eth0"); brackets optional. */
	if (target_addr_parse(v, buf, sizeof(buf), why, sizeof(why)) < 0)
		return checkspec_err(err, errlen, "%s: \"%s\"%s%s", nm, checkspec_show(b, v).s,
		                     strncmp(why, "not ", 4) == 0 ? " is " : ": ", why);
	if (c->n_resolve >= CHECK_RESOLVE_MAX)
		return checkspec_err(err, errlen, "%s: at most %d entries", nm, CHECK_RESOLVE_MAX);
	p = b->save(b->save_arg, buf, 0);
	if (!p)
		return checkspec_err(err, errlen, "out of memory");
	c->resolve[c->n_resolve++] = p;
	return 0;
}

/* A file name as the program will open it: relative ones from b->dir. */
static const char *checkspec_path(const struct checkspec *b, const char *v, char *buf, size_t bufsz)
{
	if (v[0] == '/' || !b->dir)
		return v;
	snprintf(buf, bufsz, "%s/%s", b->dir, v);
	return buf;
}

static int checkspec_set_file(struct checkspec *b, const struct checkspec_key *k, const char *v,
                              char *err, size_t errlen)
{
	const char *nm = checkspec_name(b, k);
	char buf[CHECKSPEC_PATHBUF];
	const char *path;
	struct stat st;

	if (checkspec_has_control(v) || strlen(v) > CHECKSPEC_PATH_MAX)
		return checkspec_err(err, errlen, "%s: not a usable file name", nm);
	path = checkspec_path(b, v, buf, sizeof(buf));
	if (access(path, R_OK) < 0)
		return checkspec_err(err, errlen, "%s %s: %s", nm, checkspec_show(b, v).s,
		                     strerror(errno));
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return checkspec_err(err, errlen, "%s %s: is a directory, not a PEM file", nm,
		                     checkspec_show(b, v).s);
	return checkspec_store(b, k, path, err, errlen);
}

/* The password, from a file or a variable; what the digest keeps is where it came from. */
static int checkspec_set_password(struct checkspec *b, const struct checkspec_key *k, const char *v,
                                  char *err, size_t errlen)
{
	const char *nm = checkspec_name(b, k);
	char pw[SECRET_MAX + 1], why[160], buf[CHECKSPEC_PATHBUF], *src, *p;
	int rc;

	if (k->type == CS_PWFILE) {
		const char *path = checkspec_path(b, v, buf, sizeof(buf));

		rc = secret_read_file(path, pw, sizeof(pw), &b->pw_world, why, sizeof(why));
		if (rc < 0)
			return checkspec_err(err, errlen, "%s %s: %s", nm, checkspec_show(b, v).s,
			                     why);
	} else {
		rc = secret_read_env(v, pw, sizeof(pw), why, sizeof(why));
		/* The command line has no flag for it: MAILPULSE_PASSWORD speaks for itself. */
		if (rc < 0 && b->src == CHECKSPEC_FLAGS)
			return checkspec_err(err, errlen, "%s", why);
		if (rc < 0)
			return checkspec_err(err, errlen, "%s: %s", nm, why);
	}
	p = b->save(b->save_arg, pw, 1);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (!p)
		return checkspec_err(err, errlen, "out of memory");
	b->chk->password = p;
	snprintf(buf, sizeof(buf), "%s:%s", k->type == CS_PWFILE ? "file" : "env", v);
	src = b->save(b->save_arg, buf, 0);
	if (!src)
		return checkspec_err(err, errlen, "out of memory");
	b->pw_src = src;
	return 0;
}

static int checkspec_set_url(struct checkspec *b, const struct checkspec_key *k, const char *v,
                             char *err, size_t errlen)
{
	static const char cli[] = "use --login and --password-file";
	char msg[256], rest[256], *p;

	if (target_parse(&b->chk->target, v, msg, sizeof(msg)) == 0)
		return 0;
	/* The shared message speaks of the command line; here the keys are meant. */
	p = strstr(msg, cli);
	if (p && b->src == CHECKSPEC_KEYS) {
		snprintf(rest, sizeof(rest), "%s", p + strlen(cli));
		snprintf(p, sizeof(msg) - (size_t)(p - msg), "use login and password_file%s", rest);
	}
	if (checkspec_url_showable(v))
		return checkspec_err(err, errlen, "%s \"%s\": %s", k->key, checkspec_show(b, v).s,
		                     msg);
	return checkspec_err(err, errlen, "%s: %s", k->key, msg);
}

int checkspec_set(struct checkspec *b, const char *key, const char *v, char *err, size_t errlen)
{
	int i = checkspec_key(key);
	const struct checkspec_key *k;
	const char *nm;
	int rc = -1;

	if (i < 0)
		return checkspec_err(err, errlen, "unknown check key \"%s\"",
		                     checkspec_show(b, key).s);
	k = &checkspec_keys[i];
	nm = checkspec_name(b, k);
	/* Given, even when refused: the cross-checks then say nothing more about it. */
	b->set |= (uint64_t)1 << i;
	switch (k->type) {
	case CS_URL:
		rc = checkspec_set_url(b, k, v, err, errlen);
		break;
	case CS_TIMEOUT:
		rc = checkspec_set_timeout(b, k, v, err, errlen);
		break;
	case CS_ENUM:
		rc = checkspec_set_enum(b, k, v, err, errlen);
		break;
	case CS_EXPECT:
		if (!*v || checkspec_has_control(v))
			rc = checkspec_err(err, errlen,
			                   "%s: the text must be non-empty printable text", nm);
		else
			rc = checkspec_store(b, k, v, err, errlen);
		break;
	case CS_CAP:
		rc = checkspec_add_cap(b, k, v, err, errlen);
		break;
	case CS_MS:
	case CS_DAYS:
		rc = checkspec_set_number(b, k, v, err, errlen);
		break;
	case CS_HOST:
		if (!checkspec_is_host_name(v))
			rc = checkspec_err(err, errlen,
			                   "%s: \"%s\" is not a host name (letters, digits, '-', "
			                   "'.', at most 253)",
			                   nm, checkspec_show(b, v).s);
		else
			rc = checkspec_store(b, k, v, err, errlen);
		break;
	case CS_FILE:
		rc = checkspec_set_file(b, k, v, err, errlen);
		break;
	case CS_TLS:
		rc = checkspec_set_tls(b, k, v, err, errlen);
		break;
	case CS_BOOL:
		rc = checkspec_set_bool(b, k, v, err, errlen);
		break;
	case CS_ADDR:
		rc = checkspec_add_addr(b, k, v, err, errlen);
		break;
	case CS_LOGIN:
		/* It goes into a LOGIN or USER command: no byte may end that line early. */
		if (!*v || checkspec_has_control(v) || strlen(v) > CHECKSPEC_LOGIN_MAX)
			rc = checkspec_err(
			    err, errlen, "%s: the user name must be non-empty printable text", nm);
		else
			rc = checkspec_store(b, k, v, err, errlen);
		break;
	case CS_PWFILE:
	case CS_PWENV:
		rc = checkspec_set_password(b, k, v, err, errlen);
		break;
	}
	return rc;
}

int checkspec_set_other(struct checkspec *b, const char *key, const char *raw, const char *found,
                        char *err, size_t errlen)
{
	int i = checkspec_key(key);
	const struct checkspec_key *k;
	const char *nm, *what = raw ? raw : found;

	if (i < 0)
		return checkspec_err(err, errlen, "unknown check key \"%s\"",
		                     checkspec_show(b, key).s);
	k = &checkspec_keys[i];
	nm = checkspec_name(b, k);
	b->set |= (uint64_t)1 << i;
	switch (k->type) {
	case CS_URL:
		return checkspec_err(err, errlen,
		                     "%s: expected an imap://, imaps://, pop3:// or pop3s:// URL, "
		                     "found %s",
		                     nm, found);
	case CS_EXPECT:
		return checkspec_err(err, errlen, "%s: the text must be non-empty printable text",
		                     nm);
	case CS_LOGIN:
		return checkspec_err(err, errlen,
		                     "%s: the user name must be non-empty printable text", nm);
	case CS_HOST:
		return checkspec_err(err, errlen,
		                     "%s: \"%s\" is not a host name (letters, digits, '-', '.', at "
		                     "most 253)",
		                     nm, checkspec_show(b, what).s);
	case CS_TLS:
		return checkspec_set_tls(b, k, what, err, errlen);
	case CS_CAP:
		return checkspec_err(err, errlen,
		                     "%s: \"%s\" is not a capability (a name, or for POP3 a CAPA "
		                     "line's keyword and arguments separated by single spaces)",
		                     nm, checkspec_show(b, what).s);
	case CS_ADDR:
		/* A null item is text that is no address, and is told so. */
		if (raw)
			return checkspec_add_addr(b, k, raw, err, errlen);
		return checkspec_err(err, errlen, "%s: expected a numeric address, found %s", nm,
		                     found);
	default:
		if (raw)
			return checkspec_err(err, errlen, "%s: a value is required", nm);
		return checkspec_err(err, errlen, "%s: expected a single value, found %s", nm,
		                     found);
	}
}

void checkspec_clear(struct checkspec *b, const char *key)
{
	int i = checkspec_key(key);

	if (i < 0)
		return;
	if (checkspec_keys[i].type == CS_CAP)
		b->chk->n_expect_caps = 0;
	else if (checkspec_keys[i].type == CS_ADDR)
		b->chk->n_resolve = 0;
}

static int checkspec_report_caps(const struct checkspec *b, const struct check *c,
                                 checkspec_report_fn report, void *arg, int first_only)
{
	const char *key = "expect_capabilities";
	char msg[512];
	int n = 0;

	if (c->target.proto != MP_IMAP)
		return 0;
	for (int i = 0; i < c->n_expect_caps && !(first_only && n); i++) {
		if (!strchr(c->expect_caps[i], ' '))
			continue;
		if (b->src == CHECKSPEC_FLAGS)
			snprintf(
			    msg, sizeof(msg),
			    "--expect-capability: \"%s\" is not a capability name for IMAP (one "
			    "atom, no spaces; \"SASL PLAIN\" is for POP3 CAPA)",
			    checkspec_show(b, c->expect_caps[i]).s);
		else
			snprintf(
			    msg, sizeof(msg),
			    "expect_capabilities \"%s\" is not an IMAP capability (one atom, no "
			    "spaces; \"SASL PLAIN\" is for POP3 CAPA)",
			    checkspec_show(b, c->expect_caps[i]).s);
		report(arg, key, NULL, msg);
		n++;
	}
	return n;
}

static void checkspec_first(void *arg, const char *key, const char *key2, const char *msg)
{
	char **out = arg;

	(void)key;
	(void)key2;
	if (!(*out)[0])
		snprintf(*out, 512, "%s", msg);
}

int checkspec_caps_fit(const struct checkspec *b, const struct check *c, char *err, size_t errlen)
{
	char buf[512] = "", *p = buf;

	if (checkspec_report_caps(b, c, checkspec_first, &p, 1) == 0)
		return 0;
	return checkspec_err(err, errlen, "%s", buf);
}

/* Whether key was set here, or here or where the check inherits from. */
static int checkspec_here(const struct checkspec *b, const char *key)
{
	return (int)(b->set >> checkspec_key(key) & 1);
}

static int checkspec_any(const struct checkspec *b, const char *key)
{
	return (int)((b->set | b->inherited) >> checkspec_key(key) & 1);
}

static int checkspec_report_warn_crit(const struct checkspec *b, checkspec_report_fn report,
                                      void *arg)
{
	const struct check *c = b->chk;
	int flags = b->src == CHECKSPEC_FLAGS, n = 0;
	const char *wn = flags ? "--warn-ms" : "warn_ms", *cn = flags ? "--crit-ms" : "crit_ms";
	char msg[256], t[32];

	if (flags)
		snprintf(t, sizeof(t), "%u ms", c->timeout_ms);
	else
		duration_format(t, sizeof(t), c->timeout_ms);
	/* The command line has always said the order first; the file, where it is. */
	if (flags && c->warn_ms && c->crit_ms && c->crit_ms < c->warn_ms) {
		snprintf(msg, sizeof(msg), "%s %u is below %s %u", cn, c->crit_ms, wn, c->warn_ms);
		report(arg, "crit_ms", "warn_ms", msg);
		n++;
	}
	if (c->warn_ms && c->warn_ms >= c->timeout_ms) {
		snprintf(msg, sizeof(msg),
		         "%s %u is not below the timeout (%s): it could never trigger", wn,
		         c->warn_ms, t);
		report(arg, "warn_ms", "timeout", msg);
		n++;
	}
	if (c->crit_ms && c->crit_ms >= c->timeout_ms) {
		snprintf(msg, sizeof(msg),
		         "%s %u is not below the timeout (%s): it could never trigger", cn,
		         c->crit_ms, t);
		report(arg, "crit_ms", "timeout", msg);
		n++;
	}
	if (!flags && c->warn_ms && c->crit_ms && c->crit_ms < c->warn_ms) {
		snprintf(msg, sizeof(msg), "%s %u is below %s %u", cn, c->crit_ms, wn, c->warn_ms);
		report(arg, "crit_ms", "warn_ms", msg);
		n++;
	}
	return n;
}

/*
 * Certificate horizons. Both written at the same level contradict each
 * other. Otherwise the more specific one wins and the other follows it: a
 * check's cert_warn_days under the defaults' cert_crit_days, or
 * --cert-warn 5 alone against the default 7 days.
 */
static int checkspec_report_cert(struct checkspec *b, checkspec_report_fn report, void *arg)
{
	struct check *c = b->chk;
	int where = checkspec_here(b, "cert_warn_days"),
	    chere = checkspec_here(b, "cert_crit_days");
	int wset = checkspec_any(b, "cert_warn_days"), cset = checkspec_any(b, "cert_crit_days");
	char msg[256];

	if (c->cert_crit_days <= c->cert_warn_days)
		return 0;
	if ((where && chere) || (!where && !chere && wset && cset)) {
		int flags = b->src == CHECKSPEC_FLAGS;

		snprintf(msg, sizeof(msg), "%s %d is above %s %d",
		         flags ? "--cert-crit" : "cert_crit_days", c->cert_crit_days,
		         flags ? "--cert-warn" : "cert_warn_days", c->cert_warn_days);
		report(arg, "cert_crit_days", "cert_warn_days", msg);
		return 1;
	}
	if (where || (!chere && wset))
		c->cert_crit_days = c->cert_warn_days;
	else
		c->cert_warn_days = c->cert_crit_days;
	return 0;
}

int checkspec_finish(struct checkspec *b, checkspec_report_fn report, void *arg)
{
	struct check *c = b->chk;
	int flags = b->src == CHECKSPEC_FLAGS, n;

	n = checkspec_report_warn_crit(b, report, arg);
	n += checkspec_report_cert(b, report, arg);
	/* The command line has many URLs: it asks checkspec_caps_fit() for each. */
	if (!flags)
		n += checkspec_report_caps(b, c, report, arg, 0);
	/* An explicit warning horizon is the admin's rule: the lifetime rule stays out unless
	 * asked. */
	if (checkspec_any(b, "cert_warn_days") && !checkspec_any(b, "cert_lifetime_rule"))
		c->cert_life_rule = 0;
	/*
	 * A password source that failed was reported where it failed; the
	 * command line finds its password after this (MAILPULSE_PASSWORD).
	 */
	if (!flags && c->login && !c->password && !checkspec_any(b, "password_file") &&
	    !checkspec_any(b, "password_env") && !b->pw_refused) {
		report(arg, "login", NULL, "login needs password_file or password_env");
		n++;
	}
	if (!c->login &&
	    (checkspec_here(b, "password_file") || checkspec_here(b, "password_env"))) {
		report(arg, "password_file", "password_env",
		       flags ? "--password-file given without --login"
		             : "a password is given without login");
		n++;
	}
	return n;
}

int checkspec_parse_resolve(const char *a, struct checkspec_resolve *r, char *err, size_t errlen)
{
	char sh[128], buf[TARGET_HOST_MAX + CHECK_RESOLVE_MAX * (TARGET_ADDR_MAX + 8)];
	const char *colon = strchr(a, ':');
	char *save = NULL;
	size_t hl;

	memset(r, 0, sizeof(*r));
	if (!colon || colon == a || !colon[1]) {
		line_escape(sh, sizeof(sh), a, strlen(a));
		return checkspec_err(err, errlen, "--resolve \"%s\": expected HOST:ADDR[,ADDR...]",
		                     sh);
	}
	hl = (size_t)(colon - a);
	if (hl >= sizeof(r->host))
		return checkspec_err(err, errlen, "--resolve: host name too long");
	memcpy(r->host, a, hl);
	r->host[hl] = '\0';
	if (!checkspec_is_host_name(r->host)) {
		line_escape(sh, sizeof(sh), r->host, strlen(r->host));
		return checkspec_err(err, errlen, "--resolve: \"%s\" is not a host name", sh);
	}
	if (strlen(colon + 1) >= sizeof(buf))
		return checkspec_err(err, errlen, "--resolve: address list too long");
	snprintf(buf, sizeof(buf), "%s", colon + 1);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char why[160];

		if (r->naddr >= CHECK_RESOLVE_MAX)
			return checkspec_err(err, errlen, "--resolve %s: more than %d addresses",
			                     r->host, CHECK_RESOLVE_MAX);
		/* IPv4, IPv6, a link-local IPv6 with its zone ("[fe80::1%eth0]"). */
		if (target_addr_parse(t, r->addr[r->naddr], sizeof(r->addr[0]), why, sizeof(why)) <
		    0) {
			line_escape(sh, sizeof(sh), t, strlen(t));
			return checkspec_err(err, errlen, "--resolve %s: \"%s\"%s%s", r->host, sh,
			                     strncmp(why, "not ", 4) == 0 ? " is " : ": ", why);
		}
		r->naddr++;
	}
	if (r->naddr == 0)
		return checkspec_err(err, errlen, "--resolve %s: no address given", r->host);
	return 0;
}

int checkspec_build(struct checkspec *b, const char *const *keys, const char *const *values,
                    size_t n, checkspec_report_fn report, void *arg)
{
	char err[512];
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		if (checkspec_set(b, keys[i], values[i], err, sizeof(err)) < 0) {
			report(arg, keys[i], NULL, err);
			bad++;
		}
	}
	/* Half a check has nothing to cross-check; its own errors say enough. */
	if (bad)
		return bad;
	if (!checkspec_here(b, "url")) {
		report(arg, "url", NULL, "a url is needed");
		return 1;
	}
	return checkspec_finish(b, report, arg);
}

/* ---- the shared copy (struct check_spec) ---- */

static size_t spec_len(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* Copy s to *at, advancing it; NULL stays NULL. */
static const char *spec_put(char **at, const char *s)
{
	char *d = *at;
	size_t n = spec_len(s);

	if (!s)
		return NULL;
	memcpy(d, s, n);
	*at += n;
	return d;
}

struct check_spec *checkspec_copy(const struct check *c, const char *name, unsigned interval_ms,
                                  unsigned retry_ms)
{
	size_t strs = spec_len(c->expect) + spec_len(c->sni) + spec_len(c->ca_file) +
	              spec_len(c->login) + spec_len(c->password);
	struct check_spec *sp;
	char *at;

	if (!name || strlen(name) >= sizeof(sp->name))
		return NULL;
	for (int i = 0; i < c->n_resolve && i < CHECK_RESOLVE_MAX; i++)
		strs += spec_len(c->resolve[i]);
	for (int i = 0; i < c->n_expect_caps && i < CHECK_CAPS_MAX; i++)
		strs += spec_len(c->expect_caps[i]);
	if (!(sp = calloc(1, sizeof(*sp) + strs)))
		return NULL;
	sp->refs = 1;
	sp->size = sizeof(*sp) + strs;
	snprintf(sp->name, sizeof(sp->name), "%s", name);
	sp->interval_ms = interval_ms;
	sp->retry_ms = retry_ms;
	sp->chk = *c;
	at = (char *)(sp + 1);
	sp->chk.expect = spec_put(&at, c->expect);
	sp->chk.sni = spec_put(&at, c->sni);
	sp->chk.ca_file = spec_put(&at, c->ca_file);
	sp->chk.login = spec_put(&at, c->login);
	sp->chk.password = spec_put(&at, c->password);
	for (int i = 0; i < CHECK_RESOLVE_MAX; i++)
		sp->chk.resolve[i] = i < c->n_resolve ? spec_put(&at, c->resolve[i]) : NULL;
	for (int i = 0; i < CHECK_CAPS_MAX; i++)
		sp->chk.expect_caps[i] =
		    i < c->n_expect_caps ? spec_put(&at, c->expect_caps[i]) : NULL;
	return sp;
}

struct check_spec *checkspec_ref(struct check_spec *sp)
{
	if (sp)
		sp->refs++;
	return sp;
}

void checkspec_unref(struct check_spec *sp)
{
	if (!sp || --sp->refs > 0)
		return;
	OPENSSL_cleanse(sp, sp->size);
	free(sp);
}
