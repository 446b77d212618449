"""Addon integration and contract tests (a package so its conftest is addons.conftest)."""
