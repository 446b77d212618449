"""Built-in lookup plugin ``random_number``."""

from __future__ import annotations

import pytest

from opentaskpy.exceptions import LookupPluginError
from opentaskpy.plugins.lookup import random_number


def test_inclusive_range() -> None:
    assert random_number.PLUGIN_NAME == "random_number"
    values = {random_number.run(min=1, max=3) for _ in range(300)}
    assert values == {"1", "2", "3"}
    assert random_number.run(min=7, max=7) == "7"


@pytest.mark.parametrize(
    ("kwargs", "missing"), [({}, "min"), ({"max": 1}, "min"), ({"min": 1}, "max")]
)
def test_missing_kwargs(kwargs: dict, missing: str) -> None:
    with pytest.raises(LookupPluginError) as info:
        random_number.run(**kwargs)
    assert str(info.value) == (
        f"Missing kwarg: '{missing}' while trying to run lookup plugin 'random_number'"
    )
