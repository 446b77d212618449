"""Protocol handlers: how opentaskpy talks to hosts and moves files."""
