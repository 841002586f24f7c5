/* One exported function whose name is chosen at compile time (-DTAG=name), so a test can
 * load a library that nothing else in the process has loaded and look its symbol up. */
#ifndef TAG
#error "compile with -DTAG=<symbol name>"
#endif
int TAG(void) { return 42; }
