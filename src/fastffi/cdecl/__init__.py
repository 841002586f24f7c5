"""C text to the model: type spellings and whole declarations
(:mod:`.spelling`), parsed with pycparser when a table cannot answer
(:mod:`.parser`, imported on first use), enumerations (:mod:`.enums`)."""
