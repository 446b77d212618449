"""Configuration: loading, rendering and validating task definitions."""
