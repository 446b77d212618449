"""Remote handlers of the example addon; schemas live in ``schemas/`` here."""
