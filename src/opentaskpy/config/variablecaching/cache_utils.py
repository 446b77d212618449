"""Write-back of cacheable variables through caching plugins."""

import importlib

from opentaskpy import otflogging

DEFAULT_CACHE_PLUGINS = ["file"]


def update_cache(cacheable_variable: dict, updated_value: str) -> None:
    """Store ``updated_value`` with the entry's caching plugin.

    Built-in plugins live in ``opentaskpy.config.variablecaching``, others
    in the ``opentaskpy.variablecaching`` namespace (e.g. ``aws.vc_ssm``).
    ``cacheArgs`` gets the key ``value`` added (the dict is mutated, as in
    the reference) and is passed to the plugin's ``run(**cacheArgs)``.

    Args:
        cacheable_variable: ``{variableName, cachingPlugin, cacheArgs}``.
        updated_value: the value to persist.
    """
    plugin = cacheable_variable["cachingPlugin"]
    if plugin in DEFAULT_CACHE_PLUGINS:
        module_name = f"opentaskpy.config.variablecaching.{plugin}"
    else:
        module_name = f"opentaskpy.variablecaching.{plugin}"
    module = importlib.import_module(module_name)
    # Cached values are refreshed credentials: keep them out of the logs.
    otflogging.register_secret(updated_value)
    cache_args = cacheable_variable["cacheArgs"]
    cache_args["value"] = updated_value
    module.run(**cache_args)
