"""fastffi's exception classes (messages: docs/errors.md).

Each derives from the builtin a caller would naturally catch as well, so
``except OSError`` still catches a library that failed to load."""


class FFIError(Exception):
    """Base class of every fastffi error."""


class LibraryError(FFIError, OSError):
    """A shared library could not be loaded; carries the loader's message."""


class SymbolError(FFIError, LookupError):
    """A symbol is not exported by the library."""


class SignatureError(FFIError, ValueError):
    """A signature or type cannot be used (unknown, malformed or unsupported)."""


class HeaderError(FFIError, OSError):
    """A header could not be preprocessed: no C preprocessor, or the header
    was not found (the preprocessor's message is kept)."""


class LibraryClosedError(FFIError, RuntimeError):
    """A function was called after its library was closed."""


class CallbackClosedError(FFIError, ValueError):
    """A closed :class:`~fastffi.Callback` was passed to a call, or C called
    one through its old address (reported to :func:`sys.unraisablehook`)."""


__all__ = ["FFIError", "LibraryError", "SymbolError", "SignatureError", "LibraryClosedError", "HeaderError",
           "CallbackClosedError"]
