"""A handler module that fails while being imported (its schema is fine)."""

raise RuntimeError("addon module exploded")
