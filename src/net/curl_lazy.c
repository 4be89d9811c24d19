/* SPDX-License-Identifier: ISC */
/*
 * curl_lazy.c - libcurl, loaded when the daemon first needs it.
 *
 * libcurl pulls in about 25 shared libraries (GnuTLS, Kerberos, LDAP,
 * ssh2, ...). Linked directly, every `mailpulse check` would load them
 * all at exec, several milliseconds of a one-shot probe that never sends
 * a notification. So nothing links libcurl: this file defines the libcurl
 * functions curl_loop.c and notify.c call, and each one opens libcurl.so.4
 * on first use and forwards to the real function. It is the same library
 * and the same API; only the moment of loading moves.
 *
 * Single-threaded like the rest of the daemon; the table is filled once.
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#define CURL_SONAME "libcurl.so.4"

static struct {
	int tried;
	void *lib;
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_cleanup)(CURLM *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} lc;

/* dlsym returns void *; ISO C has no conversion to function pointers, memcpy does it. */
static int sym(void *dst, size_t size, const char *name)
{
	void *p = dlsym(lc.lib, name);

	if (!p)
		return -1;
	memcpy(dst, &p, size);
	return 0;
}

#define SYM(field, name) sym(&lc.field, sizeof(lc.field), name)

/* 0 when libcurl is loaded and every function found. */
static int load(void)
{
	if (lc.tried)
		return lc.lib ? 0 : -1;
	lc.tried = 1;
	lc.lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lc.lib)
		return -1;
	if (SYM(global_init, "curl_global_init") || SYM(global_cleanup, "curl_global_cleanup") ||
	    SYM(easy_init, "curl_easy_init") || SYM(easy_setopt, "curl_easy_setopt") ||
	    SYM(easy_getinfo, "curl_easy_getinfo") || SYM(easy_cleanup, "curl_easy_cleanup") ||
	    SYM(easy_strerror, "curl_easy_strerror") || SYM(multi_init, "curl_multi_init") ||
	    SYM(multi_setopt, "curl_multi_setopt") ||
	    SYM(multi_add_handle, "curl_multi_add_handle") ||
	    SYM(multi_remove_handle, "curl_multi_remove_handle") ||
	    SYM(multi_socket_action, "curl_multi_socket_action") ||
	    SYM(multi_assign, "curl_multi_assign") ||
	    SYM(multi_info_read, "curl_multi_info_read") ||
	    SYM(multi_cleanup, "curl_multi_cleanup") || SYM(slist_append, "curl_slist_append") ||
	    SYM(slist_free_all, "curl_slist_free_all")) {
		dlclose(lc.lib);
		lc.lib = NULL;
		return -1;
	}
	return 0;
}

CURLcode curl_global_init(long flags)
{
	return load() == 0 ? lc.global_init(flags) : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
	if (lc.lib)
		lc.global_cleanup();
}

CURL *curl_easy_init(void)
{
	return load() == 0 ? lc.easy_init() : NULL;
}

/*
 * The option's number says the type of its one argument (curl.h's
 * CURLOPTTYPE_* ranges), as libcurl itself reads it.
 */
CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	va_list ap;
	CURLcode rc;

	if (load() != 0)
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = lc.easy_setopt(h, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = lc.easy_setopt(h, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = lc.easy_setopt(h, opt, va_arg(ap, void (*)(void)));
	else if (opt < CURLOPTTYPE_BLOB)
		rc = lc.easy_setopt(h, opt, va_arg(ap, curl_off_t));
	else
		rc = lc.easy_setopt(h, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	va_list ap;
	CURLcode rc;

	if (load() != 0)
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	rc = lc.easy_getinfo(h, info, va_arg(ap, void *)); /* always a pointer to the result */
	va_end(ap);
	return rc;
}

void curl_easy_cleanup(CURL *h)
{
	if (lc.lib)
		lc.easy_cleanup(h);
}

const char *curl_easy_strerror(CURLcode rc)
{
	return load() == 0 ? lc.easy_strerror(rc) : "libcurl (" CURL_SONAME ") cannot be loaded";
}

CURLM *curl_multi_init(void)
{
	return load() == 0 ? lc.multi_init() : NULL;
}

CURLMcode curl_multi_setopt(CURLM *m, CURLMoption opt, ...)
{
	va_list ap;
	CURLMcode rc;

	if (load() != 0)
		return CURLM_INTERNAL_ERROR;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = lc.multi_setopt(m, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = lc.multi_setopt(m, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = lc.multi_setopt(m, opt, va_arg(ap, void (*)(void)));
	else
		rc = lc.multi_setopt(m, opt, va_arg(ap, curl_off_t));
	va_end(ap);
	return rc;
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
	return load() == 0 ? lc.multi_add_handle(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
	return load() == 0 ? lc.multi_remove_handle(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_socket_action(CURLM *m, curl_socket_t s, int ev, int *running)
{
	return load() == 0 ? lc.multi_socket_action(m, s, ev, running) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_assign(CURLM *m, curl_socket_t s, void *p)
{
	return load() == 0 ? lc.multi_assign(m, s, p) : CURLM_INTERNAL_ERROR;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
	if (load() != 0) {
		*left = 0;
		return NULL;
	}
	return lc.multi_info_read(m, left);
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
	return lc.lib ? lc.multi_cleanup(m) : CURLM_OK;
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
	return load() == 0 ? lc.slist_append(l, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *l)
{
	if (lc.lib)
		lc.slist_free_all(l);
}
