"""Lookup plugin ``http_json``: a value picked by JSONPath from a JSON URL."""

import requests
from jsonpath_ng import parse as jsonpath_parse

from opentaskpy.exceptions import LookupPluginError
from opentaskpy.otflogging import init_logging, set_log_file

PLUGIN_NAME = "http_json"
TIMEOUT_SECONDS = 5

logger = init_logging(__name__)


def run(**kwargs):  # type: ignore[no-untyped-def]
    """GET ``url`` and return the first value matched by ``jsonpath``.

    Args:
        **kwargs: ``url`` and ``jsonpath`` (required).

    Returns:
        The raw JSON value (e.g. ``1`` for ``$.userId``), or ``None`` when the
        request, the JSON parsing or the match fails (logged at ERROR).

    Raises:
        LookupPluginError: ``url`` or ``jsonpath`` is missing.
    """
    for name in ("url", "jsonpath"):
        if name not in kwargs:
            raise LookupPluginError(
                f"Missing kwarg: '{name}' while trying to run lookup plugin "
                f"'{PLUGIN_NAME}'"
            )
    url = kwargs["url"]
    set_log_file("urllib3")
    try:
        response = requests.get(url, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        matches = jsonpath_parse(kwargs["jsonpath"]).find(response.json())
        if not matches:
            raise LookupError(f"no match for JSONPath {kwargs['jsonpath']}")
        return matches[0].value
    except Exception as err:
        logger.error(f"Failed to read from URL {url}: {err}")
        return None
