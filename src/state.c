/* state.c: being written */
