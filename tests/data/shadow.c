/* Functions whose names collide with Library methods and attributes: such definitions are
 * reachable only as lib[name]. */
int function(void) { return 1; }
int symbol(void) { return 2; }
int name(void) { return 3; }
int closed(void) { return 4; }
