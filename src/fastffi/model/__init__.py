"""The C type model: scalar kinds and the C library's typedefs, pointer types
(pointee and const-ness), layout, aggregates (structs, unions, arrays, boxes),
signatures, and namespaces (typedef names and tags, and the caches that
depend on them).  Pure data and rules: nothing here parses C text or knows a
tier."""
