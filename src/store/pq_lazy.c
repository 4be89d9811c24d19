/* SPDX-License-Identifier: ISC */
/*
 * pq_lazy.c - libpq, loaded when a PostgreSQL store is first opened.
 *
 * libpq pulls in about 24 shared libraries (Kerberos, LDAP, ...). Linked
 * directly, every `mailpulse check` and every SQLite daemon would load
 * them at exec for a store they never open. So nothing links libpq: this
 * file defines the libpq functions the store calls, and each one forwards
 * to the real function in libpq.so.5, opened by the first function that
 * can begin a use of it (parsing or opening a connection), as
 * src/net/curl_lazy.c does for libcurl. pq_lazy_missing() says why it
 * could not be loaded.
 *
 * Every other function takes a connection or a result, which only exists
 * once libpq is loaded, so it forwards without asking. A function the
 * store starts to use is one line in PQ_FUNCS (the compiler checks it
 * against libpq-fe.h's prototype).
 *
 * The table is filled once, from the thread that opens the first store.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/pg_conn.h"

#define PQ_SONAME "libpq.so.5"

/* R: returns a value; V: returns nothing. (type, name, parameters, arguments) */
#define PQ_FUNCS(R, V)                                                                             \
	R(ConnStatusType, PQstatus, (const PGconn *c), (c))                                        \
	R(int, PQserverVersion, (const PGconn *c), (c))                                            \
	R(PGresult *, PQexec, (PGconn * c, const char *q), (c, q))                                 \
	R(PGresult *, PQexecParams,                                                                \
	  (PGconn * c, const char *q, int n, const Oid *t, const char *const *v, const int *l,     \
	   const int *f, int rf),                                                                  \
	  (c, q, n, t, v, l, f, rf))                                                               \
	R(int, PQsendQueryParams,                                                                  \
	  (PGconn * c, const char *q, int n, const Oid *t, const char *const *v, const int *l,     \
	   const int *f, int rf),                                                                  \
	  (c, q, n, t, v, l, f, rf))                                                               \
	R(PGresult *, PQprepare, (PGconn * c, const char *s, const char *q, int n, const Oid *t),  \
	  (c, s, q, n, t))                                                                         \
	R(PGresult *, PQexecPrepared,                                                              \
	  (PGconn * c, const char *s, int n, const char *const *v, const int *l, const int *f,     \
	   int rf),                                                                                \
	  (c, s, n, v, l, f, rf))                                                                  \
	R(int, PQsendPrepare, (PGconn * c, const char *s, const char *q, int n, const Oid *t),     \
	  (c, s, q, n, t))                                                                         \
	R(int, PQsendQueryPrepared,                                                                \
	  (PGconn * c, const char *s, int n, const char *const *v, const int *l, const int *f,     \
	   int rf),                                                                                \
	  (c, s, n, v, l, f, rf))                                                                  \
	R(ExecStatusType, PQresultStatus, (const PGresult *r), (r))                                \
	R(char *, PQresultErrorMessage, (const PGresult *r), (r))                                  \
	R(char *, PQresultErrorField, (const PGresult *r, int f), (r, f))                          \
	R(char *, PQgetvalue, (const PGresult *r, int row, int col), (r, row, col))                \
	R(int, PQgetisnull, (const PGresult *r, int row, int col), (r, row, col))                  \
	R(int, PQntuples, (const PGresult *r), (r))                                                \
	R(int, PQnfields, (const PGresult *r), (r))                                                \
	R(int, PQsetnonblocking, (PGconn * c, int arg), (c, arg))                                  \
	R(int, PQenterPipelineMode, (PGconn * c), (c))                                             \
	R(int, PQexitPipelineMode, (PGconn * c), (c))                                              \
	R(int, PQpipelineSync, (PGconn * c), (c))                                                  \
	R(PGpipelineStatus, PQpipelineStatus, (const PGconn *c), (c))                              \
	R(int, PQflush, (PGconn * c), (c))                                                         \
	R(int, PQconsumeInput, (PGconn * c), (c))                                                  \
	R(int, PQisBusy, (PGconn * c), (c))                                                        \
	R(PGresult *, PQgetResult, (PGconn * c), (c))                                              \
	R(int, PQsocket, (const PGconn *c), (c))                                                   \
	R(PostgresPollingStatusType, PQconnectPoll, (PGconn * c), (c))                             \
	R(PGTransactionStatusType, PQtransactionStatus, (const PGconn *c), (c))                    \
	R(PGcancel *, PQgetCancel, (PGconn * c), (c))                                              \
	R(int, PQcancel, (PGcancel * k, char *buf, int len), (k, buf, len))                        \
	V(PQfreeCancel, (PGcancel * k), (k))

/* Those that may come first, or be given NULL: written out below. */
#define PQ_FIRST(R, V)                                                                             \
	R(PQconninfoOption *, PQconninfoParse, (const char *s, char **e), (s, e))                  \
	V(PQconninfoFree, (PQconninfoOption * o), (o))                                             \
	R(PGconn *, PQconnectdbParams, (const char *const *k, const char *const *v, int x),        \
	  (k, v, x))                                                                               \
	R(PGconn *, PQconnectStartParams, (const char *const *k, const char *const *v, int x),     \
	  (k, v, x))                                                                               \
	R(char *, PQerrorMessage, (const PGconn *c), (c))                                          \
	V(PQfinish, (PGconn * c), (c))                                                             \
	V(PQclear, (PGresult * r), (r))

#define FIELD_R(type, name, params, args) type(*name) params;
#define FIELD_V(name, params, args)       void(*name) params;

static struct {
	int tried;
	void *lib;
	char why[256];
	PQ_FUNCS(FIELD_R, FIELD_V)
	PQ_FIRST(FIELD_R, FIELD_V)
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

#define SYM_R(type, name, params, args) || sym(&pq.name, sizeof(pq.name), #name)
#define SYM_V(name, params, args)       || sym(&pq.name, sizeof(pq.name), #name)

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
	if (0 PQ_FUNCS(SYM_R, SYM_V) PQ_FIRST(SYM_R, SYM_V)) {
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

#define FWD_R(type, name, params, args)                                                            \
	type name params                                                                           \
	{                                                                                          \
		return pq.name args;                                                               \
	}
#define FWD_V(name, params, args)                                                                  \
	void name params                                                                           \
	{                                                                                          \
		pq.name args;                                                                      \
	}

PQ_FUNCS(FWD_R, FWD_V)

PQconninfoOption *PQconninfoParse(const char *conninfo, char **errmsg)
{
	if (errmsg)
		*errmsg = NULL;
	return load() == 0 ? pq.PQconninfoParse(conninfo, errmsg) : NULL;
}

void PQconninfoFree(PQconninfoOption *o)
{
	if (pq.lib)
		pq.PQconninfoFree(o);
}

PGconn *PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
	return load() == 0 ? pq.PQconnectdbParams(keywords, values, expand_dbname) : NULL;
}

PGconn *PQconnectStartParams(const char *const *keywords, const char *const *values,
                             int expand_dbname)
{
	return load() == 0 ? pq.PQconnectStartParams(keywords, values, expand_dbname) : NULL;
}

char *PQerrorMessage(const PGconn *c)
{
	static char none[] = "libpq is not loaded\n";

	return pq.lib && c ? pq.PQerrorMessage(c) : none;
}

void PQfinish(PGconn *c)
{
	if (pq.lib && c)
		pq.PQfinish(c);
}

void PQclear(PGresult *r)
{
	if (pq.lib && r)
		pq.PQclear(r);
}
