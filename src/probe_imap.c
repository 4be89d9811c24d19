/* probe_imap.c: being written */
