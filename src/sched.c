/* sched.c: being written */
