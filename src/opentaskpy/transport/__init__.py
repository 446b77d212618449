"""Transports: how opentaskpy reaches a host (never imports the layers above)."""
