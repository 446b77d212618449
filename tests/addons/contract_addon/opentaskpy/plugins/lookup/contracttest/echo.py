"""Lookup plugin: returns a kwarg and proves ``globals`` was passed."""

import opentaskpy.otflogging

logger = opentaskpy.otflogging.init_logging(__name__)


def run(**kwargs):  # type: ignore[no-untyped-def]
    """Return ``<text>|<GREETING from globals>``."""
    globals_ = kwargs["globals"]
    return f"{kwargs['text']}|{globals_['GREETING']}"
