"""fastffi's version (one place: the package and the header cache's key read it)."""
__version__ = "0.1.0"
