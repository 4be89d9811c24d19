/* SPDX-License-Identifier: ISC */
/*
 * curl_loop.h - libcurl's multi interface driven by a libevent base (curl
 * docs/examples/multi-event.c): transfers run on the caller's loop and
 * never block it. Knows nothing of what the transfers are for.
 *
 * A struct curl_loop is made by curl_loop_new() and freed by
 * curl_loop_free(), both outside any of its callbacks. Each transfer is
 * one easy handle the caller prepared; curl_loop_add() takes it over and
 * reports its end once through the completion callback, from the loop,
 * never from inside curl_loop_add(). curl_loop_cancel() ends it early
 * without a callback.
 */
#ifndef MP_CURL_LOOP_H
#define MP_CURL_LOOP_H

#include <stddef.h>

#include <curl/curl.h>

struct event_base;
struct curl_loop;
struct curl_loop_xfer;

/* How a transfer ended. Valid during the callback only. */
struct curl_loop_result {
	CURL *easy;    /* for further curl_easy_getinfo(); freed after the callback */
	CURLcode rc;   /* CURLE_FILESIZE_EXCEEDED: the body passed its bound */
	long status;   /* CURLINFO_RESPONSE_CODE: HTTP status or SMTP reply; 0: none */
	long os_errno; /* CURLINFO_OS_ERRNO when rc is CURLE_COULDNT_CONNECT; else 0 */
	const char
	    *errbuf;      /* libcurl's message, NUL-terminated; "" when none; may quote the peer */
	const char *body; /* the response body kept, NUL-terminated (a body may hold NULs) */
	size_t bodylen;   /* bytes in body */
	int body_cut;     /* CURL_LOOP_BODY_CUT: more arrived than was kept */
};

typedef void (*curl_loop_done_cb)(const struct curl_loop_result *r, void *arg);

/*
 * Response bodies over body_max: by default the transfer fails with
 * CURLE_FILESIZE_EXCEEDED; with CURL_LOOP_BODY_CUT the first body_max
 * bytes are kept, the rest read and dropped, and the transfer goes on.
 */
#define CURL_LOOP_BODY_CUT 1u

/*
 * Calls curl_global_init() (libcurl counts the pairs): make the first
 * loop before any thread starts. NULL when out of memory or libcurl
 * cannot be loaded.
 */
struct curl_loop *curl_loop_new(struct event_base *base);

/*
 * Cancels every transfer still running, without callbacks, then frees.
 * Not from inside a completion callback.
 */
void curl_loop_free(struct curl_loop *l);

/*
 * Start a transfer: easy is the caller's handle with its URL and request
 * options set; from here on it is the loop's, cleaned up after the
 * callback or on cancel (also when this fails). The loop sets
 * CURLOPT_PRIVATE, ERRORBUFFER, WRITEFUNCTION, WRITEDATA and NOSIGNAL: the
 * caller must not. Whatever the request options point to (headers, body,
 * read callback data) must live until the callback or the cancel.
 * Returns the transfer, or NULL (out of memory, or libcurl refused).
 */
struct curl_loop_xfer *curl_loop_add(struct curl_loop *l, CURL *easy, size_t body_max,
                                     unsigned flags, curl_loop_done_cb cb, void *arg);

/* End a running transfer now: no callback; x is freed. Not for one already reported. */
void curl_loop_cancel(struct curl_loop_xfer *x);

/* Transfers added and not yet reported or cancelled. */
int curl_loop_running(const struct curl_loop *l);

#endif
