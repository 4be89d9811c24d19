/* SPDX-License-Identifier: ISC */
/*
 * test_probe_conf.c - a probing node's settings (conf/probe.h): each key's
 * good and bad values through the one setter, the YAML file with its
 * file:line:col messages, and the token file read at the end.
 *
 * Linked with -Wl,--wrap=free, so the token's block can be read in the
 * moment between its wipe and its release.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/probe.h"

void __real_free(void *p);
void __wrap_free(void *p);

/* The token being watched, and what free found where it was. */
static const char *watched;
static size_t watched_len;
static int freed_watched, freed_all_zero;

void __wrap_free(void *p)
{
	/*
	 * The token's block begins a small header before the token; any other
	 * block begins further away (malloc's own header and alignment).
	 */
	if (p && watched && (const char *)p < watched && watched - (const char *)p <= 32) {
		freed_watched = 1;
		freed_all_zero = 1;
		for (size_t i = 0; i < watched_len; i++)
			freed_all_zero &= watched[i] == 0;
	}
	__real_free(p);
}

static char dir[64];

static void make_dir(void)
{
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/mp-test-probe-conf-XXXXXX");
		assert_non_null(mkdtemp(dir));
	}
}

/* dir/name holding text, with mode; its path into path. */
static void put_file(const char *name, const char *text, mode_t mode, char *path, size_t len)
{
	FILE *f;

	make_dir();
	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* Set key to value on a fresh conf: 0, or -1 with the message in err. */
static int set1(const char *key, const char *value, char *err, size_t errlen)
{
	struct probe_conf *pc = probe_conf_new();
	int rc;

	assert_non_null(pc);
	err[0] = '\0';
	rc = probe_conf_set(pc, key, value, err, errlen);
	probe_conf_free(pc);
	return rc;
}

/* key=value is refused with exactly want. */
static void refused(const char *key, const char *value, const char *want)
{
	char err[512];

	if (set1(key, value, err, sizeof(err)) == 0)
		fail_msg("%s=%s accepted", key, value);
	if (strcmp(err, want) != 0)
		fail_msg("%s=%s:\n  want %s\n  got  %s", key, value, want, err);
}

static void accepted(const char *key, const char *value)
{
	char err[512];

	if (set1(key, value, err, sizeof(err)) != 0)
		fail_msg("%s=%s refused: %s", key, value, err);
}

static void test_defaults(void **state)
{
	struct probe_conf *pc = probe_conf_new();

	(void)state;
	assert_non_null(pc);
	assert_int_equal(pc->ncontrollers, 0);
	assert_null(pc->name);
	assert_null(pc->token_file);
	assert_null(pc->token);
	assert_null(pc->ca_file);
	assert_null(pc->spool);
	assert_int_equal(pc->spool_max, PROBE_SPOOL_MAX_DEFAULT);
	assert_int_equal(pc->ncanaries, 0);
	assert_int_equal(pc->max_in_flight, 256);
	probe_conf_free(pc);
	probe_conf_free(NULL);
}

static void test_controller(void **state)
{
	struct probe_conf *pc = probe_conf_new();
	char err[512];

	(void)state;
	assert_int_equal(
	    probe_conf_set(pc, "controller", "https://mon.example.com:8443", err, sizeof(err)), 0);
	assert_int_equal(
	    probe_conf_set(pc, "controller", "HTTPS://backup.example.com/", err, sizeof(err)), 0);
	assert_int_equal(
	    probe_conf_set(pc, "controller", "https://[2001:db8::1]:8443", err, sizeof(err)), 0);
	assert_int_equal(
	    probe_conf_set(pc, "controller", "http://127.0.0.1:8080", err, sizeof(err)), 0);
	assert_int_equal(pc->ncontrollers, 4);
	assert_string_equal(pc->controller[0], "https://mon.example.com:8443");
	assert_string_equal(pc->controller[1], "https://backup.example.com"); /* no '/' */
	assert_string_equal(pc->controller[2], "https://[2001:db8::1]:8443");
	assert_string_equal(pc->controller[3], "http://127.0.0.1:8080");
	assert_int_equal(
	    probe_conf_set(pc, "controller", "https://MON.example.com:8443/", err, sizeof(err)),
	    -1);
	assert_string_equal(err, "controller: \"https://MON.example.com:8443\" is given twice");
	for (int i = 4; i < PROBE_CONTROLLERS_MAX; i++) {
		char u[64];

		snprintf(u, sizeof(u), "https://c%d.example.com", i);
		assert_int_equal(probe_conf_set(pc, "controller", u, err, sizeof(err)), 0);
	}
	assert_int_equal(
	    probe_conf_set(pc, "controller", "https://one-more.example.com", err, sizeof(err)), -1);
	assert_string_equal(err, "controller: at most 8");
	probe_conf_free(pc);

	accepted("controller", "http://[::1]:8080");
	accepted("controller", "http://localhost:8080");
	accepted("controller", "http://LOCALHOST");
	accepted("controller", "https://mon.example.com");
	accepted("controller", "https://192.0.2.1:443/");

	/* In clear only where no network is crossed. */
	refused("controller", "http://mon.example.com:8080",
	        "controller: http:// is accepted only to 127.0.0.1, [::1] or localhost: "
	        "elsewhere the token and the results would cross the network in clear (use "
	        "https://)");
	refused("controller", "http://127.0.0.2:8080",
	        "controller: http:// is accepted only to 127.0.0.1, [::1] or localhost: "
	        "elsewhere the token and the results would cross the network in clear (use "
	        "https://)");
	/* Credentials: refused, and never repeated in the message. */
	refused("controller", "https://node:hunter2@mon.example.com",
	        "controller: a user or password in the URL is not accepted (URLs are logged): "
	        "the node authenticates with its token_file");
	refused("controller", "ftp://mon.example.com",
	        "controller: \"ftp://mon.example.com\" is not an https:// URL");
	refused("controller", "mon.example.com:8443",
	        "controller: \"mon.example.com:8443\" is not an https:// URL");
	refused("controller", "https://mon.example.com/mailpulse",
	        "controller: \"https://mon.example.com/mailpulse\": only https://HOST[:PORT] is "
	        "accepted (no path, query or fragment: the node adds /api/v1/nodes/...)");
	refused("controller", "https://mon.example.com?x=1",
	        "controller: \"https://mon.example.com?x=1\": only https://HOST[:PORT] is "
	        "accepted (no path, query or fragment: the node adds /api/v1/nodes/...)");
	refused("controller", "https://", "controller: \"https://\" has no host");
	refused("controller", "https://:8443", "controller: \"https://:8443\" has no host");
	refused("controller", "https://mon.example.com:0",
	        "controller: \"https://mon.example.com:0\" has no valid port (1 to 65535)");
	refused("controller", "https://mon.example.com:65536",
	        "controller: \"https://mon.example.com:65536\" has no valid port (1 to 65535)");
	refused("controller", "https://mon.example.com:",
	        "controller: \"https://mon.example.com:\" has no valid port (1 to 65535)");
	refused("controller", "https://mon.example.com:https",
	        "controller: \"https://mon.example.com:https\" has no valid port (1 to 65535)");
	refused("controller", "https://2001:db8::1:8443",
	        "controller: IPv6 addresses need brackets, as in https://[::1]:8443");
	refused("controller", "https://[2001:zz::1]:8443",
	        "controller: \"2001:zz::1\" is not an IPv6 address");
	refused("controller", "https://[::1]8443",
	        "controller: \"https://[::1]8443\" is not HOST:PORT");
	refused("controller", "https://mon.example!.com",
	        "controller: \"mon.example!.com\" is not a host name or address");
	refused("controller", "https://mon.example.com /",
	        "controller: not a usable URL (at most 300 characters, no spaces or control "
	        "characters)");
	refused("controller", "", "controller: a value is required");
}

static void test_name(void **state)
{
	(void)state;
	accepted("name", "eu-west");
	accepted("name", "node_1.fra");
	refused("name", "eu west",
	        "name \"eu west\": use letters, digits, '.', '_' and '-' (it names the node's "
	        "location in URLs and logs)");
	refused("name", "..", "name \"..\" is only dots: use a letter or digit");
	refused("name", "", "name: a value is required");
	refused("name", "a123456789a123456789a123456789a123456789a123456789a123456789a1234",
	        "name \"a123456789a123456789a123456789a123456789a123456789a123456789a1234\" is "
	        "longer than 64 characters");
}

static void test_paths(void **state)
{
	char path[256], err[512];
	struct probe_conf *pc = probe_conf_new();

	(void)state;
	put_file("ca.pem", "-----BEGIN CERTIFICATE-----\n", 0644, path, sizeof(path));
	assert_int_equal(probe_conf_set(pc, "ca_file", path, err, sizeof(err)), 0);
	assert_string_equal(pc->ca_file, path);
	/* Flags spell it with '-'. */
	assert_int_equal(probe_conf_set(pc, "token-file", "relative/token", err, sizeof(err)), 0);
	assert_string_equal(pc->token_file, "relative/token"); /* as given: no file yet */
	assert_int_equal(
	    probe_conf_set(pc, "spool", "/var/lib/mailpulse/spool.db", err, sizeof(err)), 0);
	assert_string_equal(pc->spool, "/var/lib/mailpulse/spool.db");
	probe_conf_free(pc);

	refused("ca_file", "/nonexistent/ca.pem",
	        "ca_file /nonexistent/ca.pem: No such file or directory");
	make_dir();
	snprintf(err, sizeof(err), "ca_file %s: is a directory, not a PEM file", dir);
	refused("ca_file", dir, err);
	snprintf(err, sizeof(err), "spool %s: is a directory: name the SQLite file in it", dir);
	refused("spool", dir, err);
	refused("token_file", "a\nb", "token_file: not a usable file name");
	refused("spool", "", "spool: a value is required");
	unlink(path);
}

static void test_numbers(void **state)
{
	struct probe_conf *pc = probe_conf_new();
	char err[512];

	(void)state;
	assert_int_equal(probe_conf_set(pc, "spool_max", "1000", err, sizeof(err)), 0);
	assert_int_equal(pc->spool_max, 1000);
	assert_int_equal(probe_conf_set(pc, "spool-max", "10000000", err, sizeof(err)), 0);
	assert_int_equal(pc->spool_max, 10000000);
	assert_int_equal(probe_conf_set(pc, "max_in_flight", "1", err, sizeof(err)), 0);
	assert_int_equal(pc->max_in_flight, 1);
	assert_int_equal(probe_conf_set(pc, "max_in_flight", "10000", err, sizeof(err)), 0);
	assert_int_equal(pc->max_in_flight, 10000);
	probe_conf_free(pc);

	refused("spool_max", "999", "spool_max 999 is below the minimum 1000");
	refused("spool_max", "10000001", "spool_max 10000001 is above the maximum 10000000");
	refused("spool_max", "lots", "spool_max: \"lots\" is not a whole number");
	refused("spool_max", "-5", "spool_max: \"-5\" is not a whole number");
	refused("spool_max", "99999999999999999999999",
	        "spool_max 99999999999999999999999 is above the maximum 10000000");
	refused("max_in_flight", "0", "max_in_flight 0 is below the minimum 1");
	refused("max_in_flight", "10001", "max_in_flight 10001 is above the maximum 10000");
}

static void test_canary(void **state)
{
	struct probe_conf *pc = probe_conf_new();
	char err[512];

	(void)state;
	assert_int_equal(probe_conf_set(pc, "canary", "imaps://mail.example.com", err, sizeof(err)),
	                 0);
	assert_int_equal(
	    probe_conf_set(pc, "canary", "pop3://[2001:db8::5]:1110", err, sizeof(err)), 0);
	assert_int_equal(pc->ncanaries, 2);
	assert_string_equal(pc->canaries[0], "imaps://mail.example.com:993"); /* canonical */
	assert_string_equal(pc->canaries[1], "pop3://[2001:db8::5]:1110");
	assert_int_equal(
	    probe_conf_set(pc, "canary", "IMAPS://mail.example.com:993/", err, sizeof(err)), -1);
	assert_string_equal(err, "canary: \"imaps://mail.example.com:993\" is given twice");
	for (int i = 2; i < PROBE_CANARIES_MAX; i++) {
		char u[64];

		snprintf(u, sizeof(u), "imap://c%d.example.com", i);
		assert_int_equal(probe_conf_set(pc, "canary", u, err, sizeof(err)), 0);
	}
	assert_int_equal(probe_conf_set(pc, "canary", "imap://more.example.com", err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "canary: at most 8");
	probe_conf_free(pc);

	accepted("canary", "pop3s://mail.example.com");
	refused("canary", "https://mail.example.com",
	        "canary \"https://mail.example.com\": unknown scheme \"https\" (position 1): use "
	        "imap://, imaps://, pop3:// or pop3s://");
	refused("canary", "imaps://mail.example.com/INBOX",
	        "canary \"imaps://mail.example.com/INBOX\": a path is not accepted: only a "
	        "trailing \"/\" may follow host and port (position 26)");
	refused("canary", "imaps://probe:hunter2@mail.example.com",
	        "canary: a user or password in the URL is not accepted (URLs are logged; a "
	        "canary probes without a login)");
	refused("canary", "imaps://mail.example.com?x",
	        "canary: a query (\"?...\") is not accepted (position 25)");
}

static void test_unknown_key(void **state)
{
	(void)state;
	refused("contoller", "https://x.example.com",
	        "unknown setting \"contoller\"; did you mean \"controller\"?");
	refused("password", "x",
	        "unknown setting \"password\"; the settings are controller, name, token_file, "
	        "ca_file, spool, spool_max, canary and max_in_flight");
	refused("a-very-long-key-that-matches-nothing-at-all", "x",
	        "unknown setting \"a-very-long-key-that-matches-nothing-at-all\"; the settings "
	        "are controller, name, token_file, ca_file, spool, spool_max, canary and "
	        "max_in_flight");
}

/* Load text as dir/name: the number of problems, the messages in *out (to free). */
static int load_text(struct probe_conf *pc, const char *name, const char *text, char *path,
                     size_t len, char **out)
{
	size_t olen = 0;
	FILE *errs;
	int n;

	put_file(name, text, 0600, path, len);
	*out = NULL;
	errs = open_memstream(out, &olen);
	assert_non_null(errs);
	n = probe_conf_load(pc, path, errs);
	fclose(errs);
	return n;
}

static void test_yaml_good(void **state)
{
	struct probe_conf *pc = probe_conf_new();
	char path[256], want[512], tok[256], *out;
	size_t olen = 0;
	FILE *errs;

	(void)state;
	put_file("ca.pem", "-----BEGIN CERTIFICATE-----\n", 0644, tok, sizeof(tok));
	put_file("node.token", "node-token-0123456789abcdef\n", 0600, tok, sizeof(tok));
	assert_int_equal(
	    load_text(pc, "node.yaml",
	              "# a node\n"
	              "controller:\n"
	              "  - https://mon.example.com:8443\n"
	              "  - https://backup.example.com:8443\n"
	              "name: eu-west\n"
	              "token_file: node.token      # relative: to this file\n"
	              "ca_file: ca.pem\n"
	              "spool: spool.db\n"
	              "spool_max: 50000\n"
	              "canaries: [imaps://mail.example.com, pop3s://mail.example.com]\n"
	              "max_in_flight: 64\n",
	              path, sizeof(path), &out),
	    0);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(pc->ncontrollers, 2);
	assert_string_equal(pc->controller[1], "https://backup.example.com:8443");
	assert_string_equal(pc->name, "eu-west");
	snprintf(want, sizeof(want), "%s/node.token", dir);
	assert_string_equal(pc->token_file, want);
	snprintf(want, sizeof(want), "%s/ca.pem", dir);
	assert_string_equal(pc->ca_file, want);
	snprintf(want, sizeof(want), "%s/spool.db", dir);
	assert_string_equal(pc->spool, want);
	assert_int_equal(pc->spool_max, 50000);
	assert_int_equal(pc->ncanaries, 2);
	assert_string_equal(pc->canaries[1], "pop3s://mail.example.com:995");
	assert_int_equal(pc->max_in_flight, 64);
	assert_null(pc->token); /* read by finish */

	errs = open_memstream(&out, &olen);
	assert_int_equal(probe_conf_finish(pc, errs), 0);
	fclose(errs);
	assert_string_equal(out, "");
	free(out);
	assert_string_equal(pc->token, "node-token-0123456789abcdef"); /* newline cut */

	/* Freed: the token is wiped before its block goes back. */
	watched = pc->token;
	watched_len = strlen(pc->token);
	freed_watched = freed_all_zero = 0;
	probe_conf_free(pc);
	watched = NULL;
	assert_true(freed_watched);
	assert_true(freed_all_zero);

	/* One controller as a single value; canary, the setting's own name, as a key. */
	pc = probe_conf_new();
	assert_int_equal(load_text(pc, "one.yaml",
	                           "controller: https://mon.example.com\n"
	                           "canary: imap://mail.example.com\n",
	                           path, sizeof(path), &out),
	                 0);
	free(out);
	assert_int_equal(pc->ncontrollers, 1);
	assert_string_equal(pc->canaries[0], "imap://mail.example.com:143");
	/* A flag after the file adds to its lists and overrides its values. */
	assert_int_equal(
	    probe_conf_set(pc, "controller", "https://b.example.com", want, sizeof(want)), 0);
	assert_int_equal(pc->ncontrollers, 2);
	probe_conf_free(pc);

	/* An empty file sets nothing. */
	pc = probe_conf_new();
	assert_int_equal(load_text(pc, "empty.yaml", "# nothing\n", path, sizeof(path), &out), 0);
	assert_string_equal(out, "");
	free(out);
	probe_conf_free(pc);
	unlink(tok);
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	unlink(path);
}

/* Each text must give exactly the messages want, "LINE:COL: message" after the file's name. */
static void yaml_bad(const char *text, int n, const char *want)
{
	struct probe_conf *pc = probe_conf_new();
	char path[256], expected[4096] = "", *out;
	size_t len = 0;
	const char *w = want;
	int got;

	got = load_text(pc, "bad.yaml", text, path, sizeof(path), &out);
	while (*w) {
		size_t l = strcspn(w, "\n");

		len += (size_t)snprintf(expected + len, sizeof(expected) - len, "%s:%.*s\n", path,
		                        (int)l, w);
		w += l + (w[l] == '\n');
	}
	if (strcmp(out, expected) != 0 || got != n)
		fail_msg("%s\n--- expected (%d)\n%s--- got (%d)\n%s", text, n, expected, got, out);
	free(out);
	probe_conf_free(pc);
}

static void test_yaml_bad(void **state)
{
	(void)state;
	yaml_bad("controller: https://a.example.com\n"
	         "nme: eu-west\n"
	         "spool_max: 10\n"
	         "token: abcdefghijklmnopqrstuvwxyz\n"
	         "sppol_max: 5000\n"
	         "whatever: 1\n",
	         5,
	         "2:1: unknown key \"nme\"; did you mean \"name\"?\n"
	         "3:12: spool_max 10 is below the minimum 1000\n"
	         "4:1: token: secrets are never written in the file; use token_file (a file "
	         "holding it, readable by the node only)\n"
	         "5:1: unknown key \"sppol_max\"; did you mean \"spool_max\"?\n"
	         "6:1: unknown key \"whatever\"; allowed keys: controller, name, token_file, "
	         "ca_file, spool, spool_max, canaries, max_in_flight");
	yaml_bad("name: a\n"
	         "name: b\n"
	         "canaries: [imap://a.example.com]\n"
	         "canary: imap://b.example.com\n",
	         2,
	         "2:1: duplicate key \"name\" (first on line 1)\n"
	         "4:1: duplicate key \"canary\" (first on line 3)");
	yaml_bad("controller:\n"
	         "  - https://ok.example.com\n"
	         "  - http://mon.example.com\n"
	         "  - [https://nested.example.com]\n"
	         "  -\n"
	         "canaries: []\n",
	         4,
	         "3:5: controller: http:// is accepted only to 127.0.0.1, [::1] or localhost: "
	         "elsewhere the token and the results would cross the network in clear (use "
	         "https://)\n"
	         "4:5: controller: expected a single value, found a list\n"
	         "5:4: controller: expected a single value, found nothing\n"
	         "6:11: canaries: the list is empty");
	yaml_bad("name: {first: eu}\n"
	         "max_in_flight:\n"
	         "spool: ''\n",
	         3,
	         "1:7: name: expected a single value, found a mapping\n"
	         "2:15: max_in_flight: expected a single value, found nothing\n"
	         "3:8: spool: a value is required");
	yaml_bad("controller:\n"
	         "  - https://c1.example.com\n"
	         "  - https://c2.example.com\n"
	         "  - https://c3.example.com\n"
	         "  - https://c4.example.com\n"
	         "  - https://c5.example.com\n"
	         "  - https://c6.example.com\n"
	         "  - https://c7.example.com\n"
	         "  - https://c8.example.com\n"
	         "  - https://c9.example.com\n",
	         1, "10:5: controller: at most 8");
	yaml_bad("- controller\n", 1,
	         "1:1: the top level must be a mapping (controller:, name:, ...), found a list");
	yaml_bad("name: eu-west\n"
	         "  spool: x\n",
	         1, "2:8: YAML syntax error: mapping values are not allowed in this context");
	yaml_bad("name: eu-west\n"
	         "---\n"
	         "name: us-east\n",
	         1, "3:1: only one YAML document per file (remove the \"---\")");
	yaml_bad("? [a, b]\n"
	         ": x\n",
	         1, "1:3: keys must be plain words, found a list");
}

static void test_yaml_missing(void **state)
{
	struct probe_conf *pc = probe_conf_new();
	char *out = NULL;
	size_t len = 0;
	FILE *errs = open_memstream(&out, &len);

	(void)state;
	assert_int_equal(probe_conf_load(pc, "/nonexistent/node.yaml", errs), 1);
	fclose(errs);
	assert_string_equal(out, "/nonexistent/node.yaml: No such file or directory\n");
	free(out);
	probe_conf_free(pc);
}

/* finish on pc: its return, and the messages in *out (to free). */
static int finish(struct probe_conf *pc, char **out)
{
	size_t len = 0;
	FILE *errs = open_memstream(out, &len);
	int rc;

	assert_non_null(errs);
	rc = probe_conf_finish(pc, errs);
	fclose(errs);
	return rc;
}

static void test_finish(void **state)
{
	struct probe_conf *pc = probe_conf_new();
	char err[512], tok[256], path[256], want[1024], *out;

	(void)state;
	/* Nothing given: each missing setting named. */
	assert_int_equal(finish(pc, &out), -1);
	assert_string_equal(out, "mailpulse probe: no name: give --name NAME or name: (the node's "
	                         "name in the controller's nodes:)\n"
	                         "mailpulse probe: no controller: give --controller "
	                         "https://HOST:PORT or controller: in the file\n"
	                         "mailpulse probe: no token_file: give --token-file FILE or "
	                         "token_file: (the file holding the node's bearer token)\n");
	free(out);
	probe_conf_free(pc);

	/* From flags: a token file every user can read is refused. */
	put_file("open.token", "open-token-0123456789abcdef\n", 0644, tok, sizeof(tok));
	pc = probe_conf_new();
	assert_int_equal(probe_conf_set(pc, "name", "eu-west", err, sizeof(err)), 0);
	assert_int_equal(
	    probe_conf_set(pc, "controller", "https://m.example.com", err, sizeof(err)), 0);
	assert_int_equal(probe_conf_set(pc, "token_file", tok, err, sizeof(err)), 0);
	assert_int_equal(finish(pc, &out), -1);
	snprintf(want, sizeof(want),
	         "mailpulse probe: token_file %s: readable by every user: chmod 600 it (whoever "
	         "reads the token can send results as this node)\n",
	         tok);
	assert_string_equal(out, want);
	assert_null(pc->token);
	free(out);
	/* chmod 600: accepted. */
	assert_int_equal(chmod(tok, 0600), 0);
	assert_int_equal(finish(pc, &out), 0);
	assert_string_equal(out, "");
	assert_string_equal(pc->token, "open-token-0123456789abcdef");
	free(out);
	probe_conf_free(pc);
	unlink(tok);

	/* From the file: the message points at token_file's value. */
	put_file("empty.token", "\n", 0600, tok, sizeof(tok));
	pc = probe_conf_new();
	assert_int_equal(load_text(pc, "node.yaml",
	                           "name: eu-west\n"
	                           "controller: https://m.example.com\n"
	                           "token_file: empty.token\n",
	                           path, sizeof(path), &out),
	                 0);
	free(out);
	assert_int_equal(finish(pc, &out), -1);
	snprintf(want, sizeof(want), "%s:3:13: token_file %s: the first line is empty\n", path,
	         tok);
	assert_string_equal(out, want);
	free(out);
	probe_conf_free(pc);
	unlink(tok);

	/* Too short to be a token the controller accepts. */
	put_file("short.token", "short\n", 0600, tok, sizeof(tok));
	pc = probe_conf_new();
	assert_int_equal(load_text(pc, "node.yaml",
	                           "name: eu-west\n"
	                           "controller: https://m.example.com\n"
	                           "token_file: short.token\n",
	                           path, sizeof(path), &out),
	                 0);
	free(out);
	assert_int_equal(finish(pc, &out), -1);
	snprintf(want, sizeof(want),
	         "%s:3:13: token_file %s: the token is shorter than 16 characters\n", path, tok);
	assert_string_equal(out, want);
	free(out);
	/* A flag after the file: the message no longer points into the file. */
	assert_int_equal(probe_conf_set(pc, "token_file", "/nonexistent/t", err, sizeof(err)), 0);
	assert_int_equal(finish(pc, &out), -1);
	assert_string_equal(out, "mailpulse probe: token_file /nonexistent/t: No such file or "
	                         "directory\n");
	free(out);
	probe_conf_free(pc);
	unlink(tok);

	/* Missing settings of a file are reported against it. */
	pc = probe_conf_new();
	assert_int_equal(load_text(pc, "node.yaml", "controller: https://m.example.com\n", path,
	                           sizeof(path), &out),
	                 0);
	free(out);
	assert_int_equal(finish(pc, &out), -1);
	snprintf(want, sizeof(want),
	         "%s: no name: give --name NAME or name: (the node's name in the controller's "
	         "nodes:)\n"
	         "%s: no token_file: give --token-file FILE or token_file: (the file holding the "
	         "node's bearer token)\n",
	         path, path);
	assert_string_equal(out, want);
	free(out);
	probe_conf_free(pc);
	unlink(path);
}

static int teardown(void **state)
{
	char path[256];
	static const char *const names[] = {"bad.yaml", "node.yaml", "one.yaml", "empty.yaml"};

	(void)state;
	if (!dir[0])
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	if (rmdir(dir) != 0)
		fprintf(stderr, "left %s behind: %s\n", dir, strerror(errno));
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),    cmocka_unit_test(test_controller),
	    cmocka_unit_test(test_name),        cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_numbers),     cmocka_unit_test(test_canary),
	    cmocka_unit_test(test_unknown_key), cmocka_unit_test(test_yaml_good),
	    cmocka_unit_test(test_yaml_bad),    cmocka_unit_test(test_yaml_missing),
	    cmocka_unit_test(test_finish),
	};

	return cmocka_run_group_tests(tests, NULL, teardown);
}
