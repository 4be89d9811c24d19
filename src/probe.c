/* probe.c: being written */
