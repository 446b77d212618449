"""An addon package whose own __init__ fails (a plain ImportError)."""

from os import nonexistent_name  # noqa: F401
