"""A handler module that ships no schema file."""

from .recorder import RecorderTransfer


class NoSchemaTransfer(RecorderTransfer):
    """Concrete, but ``schemas/transfer/noschema_source.json`` does not exist."""
