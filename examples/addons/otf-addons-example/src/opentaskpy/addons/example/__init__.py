"""Example opentaskpy addon (see docs/addons.md of opentaskpy)."""
