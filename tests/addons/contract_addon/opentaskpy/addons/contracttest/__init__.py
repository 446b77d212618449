"""Contract-test addon (tests/addons)."""
