"""Handlers of the contract-test addon."""
