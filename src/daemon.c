/* daemon.c: being written */
