/* SPDX-License-Identifier: ISC */
/*
 * check.c - one-shot mode: options and URLs -> concurrent probes on one
 * event loop -> human, JSON or Nagios output in argument order -> exit code.
 *
 * Every usage error is a message naming the option or URL and exit code 3,
 * decided before the loop starts. The password lives in one buffer owned by
 * struct check_opts and is wiped in check_opts_free(); no output path can
 * reach it.
 */
#include "cmd/check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/line.h"
#include "spec/checkspec.h"
#include "wire/format.h"
#include "wire/output.h"
#include "engine/probe.h"

#ifndef MAILPULSE_VERSION
#define MAILPULSE_VERSION "unknown"
#endif

/* Bounded by file descriptors (ulimit -n is often 1024) more than by memory. */
#define CHECK_URLS_MAX 500

enum {
	OPT_ALL_ADDRESSES = 256,
	OPT_RESOLVE,
	OPT_STARTTLS,
	OPT_EXPECT,
	OPT_EXPECT_CAP,
	OPT_TIMEOUT,
	OPT_WARN_MS,
	OPT_CRIT_MS,
	OPT_SNI,
	OPT_CA_FILE,
	OPT_MIN_TLS,
	OPT_INSECURE,
	OPT_CERT_WARN,
	OPT_CERT_CRIT,
	OPT_CERT_LIFETIME,
	OPT_NO_CERT_LIFETIME,
	OPT_LOGIN,
	OPT_PASSWORD_FILE,
	OPT_ALLOW_PLAINTEXT_AUTH,
	OPT_POSTURE,
	OPT_JSON,
	OPT_NAGIOS,
	OPT_FORMAT,
	OPT_VERSION,
};

static const struct option long_opts[] = {
    {"all-addresses", no_argument, NULL, OPT_ALL_ADDRESSES},
    {"resolve", required_argument, NULL, OPT_RESOLVE},
    {"starttls", required_argument, NULL, OPT_STARTTLS},
    {"expect", required_argument, NULL, OPT_EXPECT},
    {"expect-capability", required_argument, NULL, OPT_EXPECT_CAP},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"warn-ms", required_argument, NULL, OPT_WARN_MS},
    {"crit-ms", required_argument, NULL, OPT_CRIT_MS},
    {"sni", required_argument, NULL, OPT_SNI},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"min-tls", required_argument, NULL, OPT_MIN_TLS},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"cert-warn", required_argument, NULL, OPT_CERT_WARN},
    {"cert-crit", required_argument, NULL, OPT_CERT_CRIT},
    {"cert-lifetime", no_argument, NULL, OPT_CERT_LIFETIME},
    {"no-cert-lifetime", no_argument, NULL, OPT_NO_CERT_LIFETIME},
    {"login", required_argument, NULL, OPT_LOGIN},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"allow-plaintext-auth", no_argument, NULL, OPT_ALLOW_PLAINTEXT_AUTH},
    {"posture", required_argument, NULL, OPT_POSTURE},
    {"json", no_argument, NULL, OPT_JSON},
    {"nagios", no_argument, NULL, OPT_NAGIOS},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

void check_usage(FILE *f)
{
	fputs("Usage: mailpulse check [OPTION]... URL...\n"
	      "\n"
	      "Probe IMAP and POP3 servers once, concurrently, and report each one's\n"
	      "status in argument order: greeting, TLS and certificate, optionally a\n"
	      "login and the message count of INBOX.\n"
	      "\n"
	      "URLs:\n"
	      "  imap://HOST[:PORT]     IMAP, port 143, STARTTLS when advertised (--starttls)\n"
	      "  imaps://HOST[:PORT]    IMAP over TLS, port 993\n"
	      "  pop3://HOST[:PORT]     POP3, port 110, STLS when advertised (--starttls)\n"
	      "  pop3s://HOST[:PORT]    POP3 over TLS, port 995\n"
	      "  HOST is a name, an IPv4 address or an IPv6 address in brackets\n"
	      "  (imaps://[2001:db8::1]:993); a link-local one names its interface\n"
	      "  (imaps://[fe80::1%25eth0]:993). A trailing \"/\" is allowed; a path,\n"
	      "  query, fragment or user name is not: credentials never go in a URL.\n"
	      "\n"
	      "Connection:\n"
	      "  -4                       use IPv4 addresses only\n"
	      "  -6                       use IPv6 addresses only\n"
	      "      --all-addresses      probe every address the name resolves to and\n"
	      "                           report each (up to 8); the worst decides the status\n"
	      "      --resolve HOST:ADDR[,ADDR...]\n"
	      "                           connect to these addresses for URLs naming HOST,\n"
	      "                           instead of DNS; HOST still serves for SNI and\n"
	      "                           the certificate (a new server before the DNS\n"
	      "                           switch, one backend of a pool); repeatable\n"
	      "      --timeout SECONDS    deadline for the whole probe, DNS to logout\n"
	      "                           (0.1 to 3600, decimals allowed; default 30)\n"
	      "      --warn-ms N          warning (degraded) when the greeting takes over N ms\n"
	      "      --crit-ms N          critical when the greeting takes over N ms; the\n"
	      "                           service still works, so its status is degraded\n"
	      "                           (both off by default; each below the timeout,\n"
	      "                           --crit-ms not below --warn-ms)\n"
	      "\n"
	      "Protocol:\n"
	      "      --starttls MODE      on imap:// and pop3:// URLs: no (greeting and\n"
	      "                           capabilities only), auto (upgrade when offered,\n"
	      "                           the default) or require (not offered is down,\n"
	      "                           reason starttls_unavailable)\n"
	      "      --expect TEXT        the greeting must contain TEXT (case-sensitive)\n"
	      "      --expect-capability CAP\n"
	      "                           the capability list must contain CAP; repeat for\n"
	      "                           several (up to 16). POP3: a CAPA line's keyword\n"
	      "                           and some of its arguments (\"SASL PLAIN\")\n"
	      "\n"
	      "TLS:\n"
	      "      --sni NAME           send NAME as SNI and verify the certificate\n"
	      "                           against it instead of the URL's host\n"
	      "      --ca-file FILE       trust the CA certificates in FILE (PEM) instead\n"
	      "                           of the system store\n"
	      "      --min-tls VERSION    lowest TLS version accepted: 1.0, 1.1, 1.2 (the\n"
	      "                           default) or 1.3\n"
	      "      --insecure           do not fail on an untrusted or mismatched\n"
	      "                           certificate; still show what was served\n"
	      "      --cert-warn DAYS     warning (degraded) when a certificate of the chain\n"
	      "                           expires within DAYS days (default 14)\n"
	      "      --cert-crit DAYS     critical when it expires within DAYS days (default\n"
	      "                           7; not above --cert-warn); users still connect, so\n"
	      "                           the status is degraded, not down\n"
	      "      --no-cert-lifetime   without --cert-warn, a leaf with under a third of\n"
	      "                           its life left is a warning too (an ACME renewal\n"
	      "                           that failed); this turns that rule off. An explicit\n"
	      "                           --cert-warn also turns it off, unless\n"
	      "                           --cert-lifetime is given as well\n"
	      "\n"
	      "Login (optional):\n"
	      "      --login USER         log in as USER and count the messages in INBOX\n"
	      "      --password-file FILE read the password from the first line of FILE;\n"
	      "                           without it, from $MAILPULSE_PASSWORD\n"
	      "      --allow-plaintext-auth\n"
	      "                           allow sending the password over a connection\n"
	      "                           without TLS (refused by default: plaintext_auth)\n"
	      "      --posture MODE       report (default): plaintext-login offers seen\n"
	      "                           before TLS are warnings only; warn: they also make\n"
	      "                           the check degraded (reason plaintext_auth)\n"
	      "\n"
	      "Output:\n"
	      "      --json               one JSON object per URL, one per line\n"
	      "                           (schema: docs/json.md, man mailpulse)\n"
	      "      --nagios             Nagios plugin output with performance data\n"
	      "      --format FMT         print FMT once per URL, like curl -w: %{status},\n"
	      "                           %{severity}, %{reason}, %{message}, %{exit_code},\n"
	      "                           %{url}, %{host}, %{port}, %{address}, %{greeting},\n"
	      "                           %{warnings}, %{messages}, %{time_to_greeting_ms},\n"
	      "                           %{time_PHASE_ms} (PHASE: dns, connect, tls,\n"
	      "                           greeting, capability, starttls, login, mailbox,\n"
	      "                           total), %{tls_version}, %{tls_cipher},\n"
	      "                           %{cert_days_left}, %{cert_not_after},\n"
	      "                           %{leaf_not_after}, %{cert_subject},\n"
	      "                           %{cert_issuer}; \\n, \\t, \\\\, %%;\n"
	      "                           a value that does not apply prints as nothing\n"
	      "  -v, --verbose            add details: address, every phase's timing,\n"
	      "                           capabilities, certificate chain, per-address results\n"
	      "  -h, --help               show this help and exit\n"
	      "      --version            show the version and exit\n"
	      "\n"
	      "Status (what users get) and severity (what the admin is told):\n"
	      "  up        works as expected                         severity ok\n"
	      "  degraded  works, with a finding: slow, certificate  severity warning, or\n"
	      "            expiring, passwords before TLS...         critical past --crit-ms\n"
	      "                                                      or --cert-crit\n"
	      "  down      users cannot use it: refused, timed out,  severity critical\n"
	      "            bad TLS, wrong greeting, login refused...\n"
	      "  unknown   our side failed: no judgement             severity unknown\n"
	      "\n"
	      "Exit status, from the severity (the worst over all URLs):\n"
	      "  0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for a usage error).\n"
	      "Any critical URL gives 2; else any warning gives 1; else any unknown gives 3.\n"
	      "\n"
	      "Examples:\n"
	      "  mailpulse check imaps://mail.example.com pop3s://mail.example.com\n"
	      "  mailpulse check --starttls require --cert-warn 21 imap://mail.example.com\n"
	      "  mailpulse check --nagios --warn-ms 500 --crit-ms 2000 imaps://mail.example.com\n"
	      "  MAILPULSE_PASSWORD=... mailpulse check --login probe --json imaps://mx.example\n",
	      f);
}

/* Put a value into an error message: escaped and cut, since it may be anything. */
static const char *shown(char *buf, size_t len, const char *s)
{
	line_escape(buf, len, s, strlen(s));
	return buf;
}

static int usage_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int usage_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A copy the check builder made: lives until check_opts_free(). */
struct check_str {
	struct check_str *next;
	char s[];
};

/* The builder's save callback: the password into its one wiped buffer, the rest on a list. */
static char *check_save(void *arg, const char *s, int secret)
{
	struct check_opts *o = arg;
	size_t n = strlen(s) + 1;
	struct check_str *p;

	if (secret) {
		if (n > sizeof(o->password))
			return NULL;
		memcpy(o->password, s, n);
		return o->password;
	}
	p = malloc(sizeof(*p) + n);
	if (!p)
		return NULL;
	memcpy(p->s, s, n);
	p->next = o->strs;
	o->strs = p;
	return p->s;
}

/* Options that are a check's settings, handed to the one check builder by key. */
static const struct {
	int opt;
	const char *key;
	const char *value; /* NULL: the option's argument */
} check_spec_opts[] = {
    {'4', "family", "ipv4"},
    {'6', "family", "ipv6"},
    {OPT_ALL_ADDRESSES, "all_addresses", "true"},
    {OPT_STARTTLS, "starttls", NULL},
    {OPT_EXPECT, "expect", NULL},
    {OPT_EXPECT_CAP, "expect_capabilities", NULL},
    {OPT_TIMEOUT, "timeout", NULL},
    {OPT_WARN_MS, "warn_ms", NULL},
    {OPT_CRIT_MS, "crit_ms", NULL},
    {OPT_SNI, "sni", NULL},
    {OPT_CA_FILE, "ca_file", NULL},
    {OPT_MIN_TLS, "min_tls", NULL},
    {OPT_INSECURE, "insecure", "true"},
    {OPT_CERT_WARN, "cert_warn_days", NULL},
    {OPT_CERT_CRIT, "cert_crit_days", NULL},
    {OPT_CERT_LIFETIME, "cert_lifetime_rule", "true"},
    {OPT_NO_CERT_LIFETIME, "cert_lifetime_rule", "false"},
    {OPT_LOGIN, "login", NULL},
    {OPT_ALLOW_PLAINTEXT_AUTH, "allow_plaintext_auth", "true"},
    {OPT_POSTURE, "posture", NULL},
};

static int check_spec_opt(int opt)
{
	for (size_t i = 0; i < sizeof(check_spec_opts) / sizeof(check_spec_opts[0]); i++)
		if (check_spec_opts[i].opt == opt)
			return (int)i;
	return -1;
}

/* Parse one --resolve HOST:ADDR[,ADDR...]; IPv6 bare or in brackets, a zone allowed. */
static int parse_resolve(const char *a, struct check_opts *o, char *err, size_t errlen)
{
	struct checkspec_resolve r;
	struct check_resolve *dst;

	if (o->nresolves >= CHECK_RESOLVES_MAX)
		return usage_error(err, errlen, "--resolve given more than %d times",
		                   CHECK_RESOLVES_MAX);
	if (checkspec_parse_resolve(a, &r, err, errlen) < 0)
		return -1;
	dst = &o->resolves[o->nresolves++];
	memcpy(dst->host, r.host, sizeof(dst->host));
	memcpy(dst->addr, r.addr, sizeof(dst->addr));
	dst->naddr = r.naddr;
	return 0;
}

/* The --resolve entry for a host name, or NULL. */
static const struct check_resolve *resolve_for(const struct check_opts *o, const char *host)
{
	for (int i = 0; i < o->nresolves; i++)
		if (strcasecmp(o->resolves[i].host, host) == 0)
			return &o->resolves[i];
	return NULL;
}

static int parse_urls(int n, char **urls, struct check_opts *o, char *err, size_t errlen)
{
	char msg[256], sh[TARGET_URL_MAX + 8];

	if (n == 0)
		return usage_error(
		    err, errlen,
		    "no URL given: for example, mailpulse check imaps://mail.example.com");
	if (n > CHECK_URLS_MAX)
		return usage_error(err, errlen, "%d URLs given, at most %d at once", n,
		                   CHECK_URLS_MAX);
	o->targets = calloc((size_t)n, sizeof(*o->targets));
	if (!o->targets)
		return usage_error(err, errlen, "out of memory");
	for (int i = 0; i < n; i++) {
		if (target_parse(&o->targets[i], urls[i], msg, sizeof(msg)) == 0)
			continue;
		if (checkspec_url_showable(urls[i]))
			return usage_error(err, errlen, "URL \"%s\": %s",
			                   shown(sh, sizeof(sh), urls[i]), msg);
		return usage_error(err, errlen, "URL number %d: %s", i + 1, msg);
	}
	o->ntargets = (size_t)n;
	for (size_t k = 0; k < o->ntargets; k++) {
		struct check t = o->base;
		struct checkspec b;

		t.target = o->targets[k];
		checkspec_init(&b, &t, CHECKSPEC_FLAGS, NULL, NULL);
		if (checkspec_caps_fit(&b, &t, err, errlen) < 0)
			return -1;
	}
	for (int i = 0; i < o->nresolves; i++) {
		for (size_t k = 0; k < o->ntargets; k++)
			if (strcasecmp(o->targets[k].host, o->resolves[i].host) == 0)
				o->resolves[i].used = 1;
		if (!o->resolves[i].used)
			return usage_error(err, errlen, "--resolve %s: no URL names this host",
			                   o->resolves[i].host);
	}
	return 0;
}

/* Keeps the builder's first problem: the command line reports one. */
static void first_problem(void *arg, const char *key, const char *key2, const char *msg)
{
	struct {
		char *err;
		size_t errlen;
		int n;
	} *f = arg;

	(void)key;
	(void)key2;
	if (f->n++ == 0)
		snprintf(f->err, f->errlen, "%s", msg);
}

/* Checks that need every option: run once the loop over argv is done. */
static int cross_check(struct check_opts *o, struct checkspec *b, int set4, int set6, int json,
                       int nagios, const char *password_file, char *err, size_t errlen)
{
	struct check *c = &o->base;
	struct {
		char *err;
		size_t errlen;
		int n;
	} first = {err, errlen, 0};
	const char *env;
	char sh[128];

	if (set4 && set6)
		return usage_error(err, errlen, "-4 and -6 exclude each other");
	if (json && nagios)
		return usage_error(err, errlen, "--json and --nagios exclude each other");
	if (checkspec_finish(b, first_problem, &first) > 0)
		return -1;
	/* The password is read last, and only when it is to be used. */
	if (password_file && !c->login)
		return usage_error(err, errlen, "--password-file given without --login");
	if (!c->login)
		return 0;
	if (password_file) {
		if (checkspec_set(b, "password_file", password_file, err, errlen) < 0)
			return -1;
		if (b->pw_world)
			fprintf(stderr,
			        "mailpulse check: warning: --password-file %s is readable by every "
			        "user (chmod 600 it)\n",
			        shown(sh, sizeof(sh), password_file));
	} else if ((env = getenv("MAILPULSE_PASSWORD")) && *env) {
		if (checkspec_set(b, "password_env", "MAILPULSE_PASSWORD", err, errlen) < 0)
			return -1;
	} else {
		return usage_error(err, errlen,
		                   "--login needs a password: use --password-file FILE or set "
		                   "MAILPULSE_PASSWORD");
	}
	return 0;
}

int check_parse_args(int argc, char **argv, struct check_opts *o, char *err, size_t errlen)
{
	struct check *c = &o->base;
	struct checkspec b;
	int set4 = 0, set6 = 0, json = 0, nagios = 0;
	const char *password_file = NULL;
	char sh[128];
	int ch, rc = 0;

	memset(o, 0, sizeof(*o));
	check_defaults(c);
	checkspec_init(&b, c, CHECKSPEC_FLAGS, check_save, o);
	err[0] = '\0';

	/* 0 makes glibc start over: check_parse_args may run more than once (tests). */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":46hv", long_opts, NULL)) != -1) {
		const char *a = optarg;

		if (rc < 0 && ch != 'h' && ch != OPT_VERSION)
			continue; /* keep only the first error, but still notice --help */
		int spec = check_spec_opt(ch);
		if (spec >= 0) {
			set4 |= ch == '4';
			set6 |= ch == '6';
			rc = checkspec_set(&b, check_spec_opts[spec].key,
			                   check_spec_opts[spec].value ? check_spec_opts[spec].value
			                                               : a,
			                   err, errlen);
			continue;
		}
		switch (ch) {
		case OPT_RESOLVE:
			rc = parse_resolve(a, o, err, errlen);
			break;
		case OPT_PASSWORD_FILE:
			password_file = a;
			break;
		case OPT_JSON:
			json = 1;
			o->format = CHECK_OUT_JSON;
			break;
		case OPT_NAGIOS:
			nagios = 1;
			o->format = CHECK_OUT_NAGIOS;
			break;
		case OPT_FORMAT:
			if (format_check(a, err, errlen) < 0)
				rc = -1;
			o->format_text = a;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			o->help = 1;
			break;
		case OPT_VERSION:
			o->version = 1;
			break;
		case ':':
			rc = usage_error(err, errlen, "option %s needs a value",
			                 shown(sh, sizeof(sh), argv[optind - 1]));
			break;
		default:
			if (optopt >= 256)
				rc = usage_error(err, errlen, "option %s does not take a value",
				                 shown(sh, sizeof(sh), argv[optind - 1]));
			else if (optopt > 0 && optopt != '?')
				rc = usage_error(err, errlen, "unknown option -%c", optopt);
			else
				rc = usage_error(err, errlen, "unknown or ambiguous option %s",
				                 shown(sh, sizeof(sh), argv[optind - 1]));
			break;
		}
	}
	if (o->help || o->version)
		return 0;
	if (rc < 0)
		return -1;
	if (o->format_text && (json || nagios))
		return usage_error(err, errlen, "--format excludes --json and --nagios");
	if (o->format_text)
		o->format = CHECK_OUT_FORMAT;
	if (cross_check(o, &b, set4, set6, json, nagios, password_file, err, errlen) < 0)
		return -1;
	return parse_urls(argc - optind, argv + optind, o, err, errlen);
}

void check_opts_free(struct check_opts *o)
{
	OPENSSL_cleanse(o->password, sizeof(o->password));
	o->base.password = NULL;
	free(o->targets);
	o->targets = NULL;
	o->ntargets = 0;
	while (o->strs) {
		struct check_str *next = ((struct check_str *)o->strs)->next;

		free(o->strs);
		o->strs = next;
	}
}

struct check_run {
	struct event_base *base;
	size_t pending; /* probes started whose callback has not run yet */
};

/* Where one probe's result lands; copied in the callback since it is valid only then. */
struct slot {
	struct check_run *run;
	struct result r;
	int done;
};

static void on_probe_done(const struct result *r, void *arg)
{
	struct slot *s = arg;

	s->r = *r;
	s->done = 1;
	/* The resolver keeps events registered forever: the loop ends when we say so. */
	if (--s->run->pending == 0)
		event_base_loopexit(s->run->base, NULL);
}

static void set_unknown(struct result *r, const char *msg)
{
	result_init(r, mp_now_us());
	result_worsen(r, MP_UNKNOWN, MP_R_INTERNAL, "%s", msg);
}

static void print_results(const struct check_opts *o, const struct check *checks,
                          const struct slot *slots)
{
	size_t n = o->ntargets;

	for (size_t i = 0; i < n; i++) {
		switch (o->format) {
		case CHECK_OUT_HUMAN:
			output_human(stdout, &checks[i], &slots[i].r, o->verbose);
			break;
		case CHECK_OUT_JSON:
			if (output_json_line(stdout, &checks[i], &slots[i].r) < 0)
				fprintf(stderr, "mailpulse check: out of memory writing JSON\n");
			break;
		case CHECK_OUT_FORMAT:
			format_print(stdout, o->format_text, &checks[i], &slots[i].r);
			break;
		case CHECK_OUT_NAGIOS:
			if (n == 1)
				output_nagios(stdout, &checks[i], &slots[i].r);
			break;
		}
	}
	if (o->format == CHECK_OUT_NAGIOS && n > 1) {
		const struct result **rs = calloc(n, sizeof(*rs));
		if (!rs) {
			fputs("MAILPULSE UNKNOWN - out of memory writing the output\n", stdout);
			return;
		}
		for (size_t i = 0; i < n; i++)
			rs[i] = &slots[i].r;
		output_nagios_multi(stdout, checks, rs, n);
		free(rs);
	}
}

static int run_checks(const struct check_opts *o)
{
	size_t n = o->ntargets;
	struct check *checks = calloc(n, sizeof(*checks));
	struct slot *slots = calloc(n, sizeof(*slots));
	struct probe_env env;
	struct event_base *base = NULL;
	struct check_run run;
	char err[256];
	int code = 3;

	memset(&env, 0, sizeof(env));
	if (!checks || !slots) {
		fprintf(stderr, "mailpulse check: out of memory\n");
		goto out;
	}
	base = event_base_new();
	if (!base) {
		fprintf(stderr, "mailpulse check: cannot create the event loop\n");
		goto out;
	}
	if (probe_env_init(&env, base, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailpulse check: %s\n", err);
		event_base_free(base);
		base = NULL;
		goto out;
	}
	run.base = base;
	run.pending = 0;
	for (size_t i = 0; i < n; i++) {
		checks[i] = o->base;
		checks[i].target = o->targets[i];
		const struct check_resolve *res = resolve_for(o, checks[i].target.host);
		for (int k = 0; res && k < res->naddr; k++)
			checks[i].resolve[checks[i].n_resolve++] = res->addr[k];
		slots[i].run = &run;
		/* Counted first: the callback never runs inside probe_start(). */
		run.pending++;
		if (!probe_start(&env, &checks[i], on_probe_done, &slots[i])) {
			run.pending--;
			set_unknown(&slots[i].r, "out of memory starting the probe");
			slots[i].done = 1;
		}
	}
	if (run.pending > 0)
		event_base_dispatch(base);
	for (size_t i = 0; i < n; i++) {
		/* The loop ran dry with a probe still owed: an engine bug, not the server. */
		if (!slots[i].done)
			set_unknown(&slots[i].r, "the probe ended without a result");
	}
	print_results(o, checks, slots);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "mailpulse check: cannot write the output: %s\n", strerror(errno));
	} else {
		enum mp_severity worst = MP_SEV_OK;

		for (size_t i = 0; i < n; i++)
			worst = output_worse(worst, slots[i].r.severity);
		code = output_exit_code(worst);
	}
	probe_env_free(&env);
	event_base_free(base);
out:
	free(checks);
	free(slots);
	return code;
}

/*
 * --nagios anywhere before "--", read without getopt: a usage error can stop
 * the parse before it reaches the option.
 */
static int wants_nagios(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--nagios") == 0)
			return 1;
	}
	return 0;
}

int check_main(int argc, char **argv)
{
	struct check_opts o;
	char err[512];
	int code;

	if (check_parse_args(argc, argv, &o, err, sizeof(err)) < 0) {
		/* A plugin's core reads stdout: it must see UNKNOWN and why, not a blank line. */
		if (wants_nagios(argc, argv)) {
			fputs("MAILPULSE UNKNOWN - usage error: ", stdout);
			output_put_safe(stdout, err, 1);
			fputc('\n', stdout);
		}
		fprintf(stderr, "mailpulse check: %s\nTry 'mailpulse check --help'.\n", err);
		check_opts_free(&o);
		return 3;
	}
	if (o.help) {
		check_usage(stdout);
		check_opts_free(&o);
		return 0;
	}
	if (o.version) {
		printf("mailpulse %s\n", MAILPULSE_VERSION);
		check_opts_free(&o);
		return 0;
	}
	/* A server closing early must be an error on that probe, not the end of the process. */
	signal(SIGPIPE, SIG_IGN);
	code = run_checks(&o);
	check_opts_free(&o);
	return code;
}
