/* probe_pop3.c: being written */
