/* SPDX-License-Identifier: ISC */
/*
 * store.h - `mailpulse store copy --from FILE --to URI`: an SQLite store's
 * history into a PostgreSQL store (store/copy.h does the work).
 */
#ifndef MP_CMD_STORE_H
#define MP_CMD_STORE_H

/* argv[0] is "store": 0 copied, 1 failed, 3 usage error. */
int store_main(int argc, char **argv);

#endif
