/* SPDX-License-Identifier: ISC */
/*
 * pq_lazy.c - libpq, loaded when a PostgreSQL store is first opened.
 *
 * libpq pulls in about 24 shared libraries (Kerberos, LDAP, ...). Linked
 * directly, every `mailpulse check` and every SQLite daemon would load
 * them at exec for a store they never open. So nothing links libpq: this
 * file defines the libpq functions the store calls, and each one opens
 * libpq.so.5 on first use and forwards to the real function, as
 * src/net/curl_lazy.c does for libcurl. pq_lazy_missing() says why it
 * could not be loaded.
 *
 * Called from the loop's thread only; the table is filled once.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/pg_conn.h"

#define PQ_SONAME "libpq.so.5"

static struct {
	int tried;
	void *lib;
	char why[256];
	PQconninfoOption *(*conninfo_parse)(const char *, char **);
	void (*conninfo_free)(PQconninfoOption *);
	PGconn *(*connectdb_params)(const char *const *, const char *const *, int);
	ConnStatusType (*status)(const PGconn *);
	char *(*error_message)(const PGconn *);
	void (*finish)(PGconn *);
	int (*server_version)(const PGconn *);
	PGresult *(*exec)(PGconn *, const char *);
	ExecStatusType (*result_status)(const PGresult *);
	char *(*result_error_message)(const PGresult *);
	void (*clear)(PGresult *);
	char *(*getvalue)(const PGresult *, int, int);
	int (*getisnull)(const PGresult *, int, int);
} pq;

/* dlsym returns void *; ISO C has no conversion to function pointers, memcpy does it. */
static int sym(void *dst, size_t size, const char *name)
{
	void *p = dlsym(pq.lib, name);

	if (!p) {
		snprintf(pq.why, sizeof(pq.why), "%s has no %s", PQ_SONAME, name);
		return -1;
	}
	memcpy(dst, &p, size);
	return 0;
}

#define SYM(field, name) sym(&pq.field, sizeof(pq.field), name)

/* 0 when libpq is loaded and every function found. */
static int load(void)
{
	const char *e;

	if (pq.tried)
		return pq.lib ? 0 : -1;
	pq.tried = 1;
	pq.lib = dlopen(PQ_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!pq.lib) {
		e = dlerror();
		snprintf(pq.why, sizeof(pq.why), "%s could not be loaded (%s): install libpq5",
		         PQ_SONAME, e ? e : "?");
		return -1;
	}
	if (SYM(conninfo_parse, "PQconninfoParse") || SYM(conninfo_free, "PQconninfoFree") ||
	    SYM(connectdb_params, "PQconnectdbParams") || SYM(status, "PQstatus") ||
	    SYM(error_message, "PQerrorMessage") || SYM(finish, "PQfinish") ||
	    SYM(server_version, "PQserverVersion") || SYM(exec, "PQexec") ||
	    SYM(result_status, "PQresultStatus") ||
	    SYM(result_error_message, "PQresultErrorMessage") || SYM(clear, "PQclear") ||
	    SYM(getvalue, "PQgetvalue") || SYM(getisnull, "PQgetisnull")) {
		dlclose(pq.lib);
		pq.lib = NULL;
		return -1;
	}
	return 0;
}

const char *pq_lazy_missing(void)
{
	return load() == 0 ? NULL : pq.why;
}

PQconninfoOption *PQconninfoParse(const char *conninfo, char **errmsg)
{
	if (errmsg)
		*errmsg = NULL;
	return load() == 0 ? pq.conninfo_parse(conninfo, errmsg) : NULL;
}

void PQconninfoFree(PQconninfoOption *o)
{
	if (pq.lib)
		pq.conninfo_free(o);
}

PGconn *PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
	return load() == 0 ? pq.connectdb_params(keywords, values, expand_dbname) : NULL;
}

ConnStatusType PQstatus(const PGconn *c)
{
	return pq.lib && c ? pq.status(c) : CONNECTION_BAD;
}

char *PQerrorMessage(const PGconn *c)
{
	static char none[] = "libpq is not loaded\n";

	return pq.lib && c ? pq.error_message(c) : none;
}

void PQfinish(PGconn *c)
{
	if (pq.lib && c)
		pq.finish(c);
}

int PQserverVersion(const PGconn *c)
{
	return pq.lib && c ? pq.server_version(c) : 0;
}

PGresult *PQexec(PGconn *c, const char *query)
{
	return pq.lib && c ? pq.exec(c, query) : NULL;
}

ExecStatusType PQresultStatus(const PGresult *r)
{
	return pq.lib && r ? pq.result_status(r) : PGRES_FATAL_ERROR;
}

char *PQresultErrorMessage(const PGresult *r)
{
	static char none[] = "";

	return pq.lib && r ? pq.result_error_message(r) : none;
}

void PQclear(PGresult *r)
{
	if (pq.lib && r)
		pq.clear(r);
}

char *PQgetvalue(const PGresult *r, int row, int col)
{
	static char none[] = "";

	return pq.lib && r ? pq.getvalue(r, row, col) : none;
}

int PQgetisnull(const PGresult *r, int row, int col)
{
	return pq.lib && r ? pq.getisnull(r, row, col) : 1;
}
