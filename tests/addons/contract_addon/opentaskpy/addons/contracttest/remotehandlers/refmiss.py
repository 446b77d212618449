"""A handler whose (present) schema refers to a sub-schema that is missing."""

from .recorder import RecorderTransfer


class RefMissTransfer(RecorderTransfer):
    """Concrete; ``schemas/transfer/refmiss_source.json`` has a dangling $ref."""
