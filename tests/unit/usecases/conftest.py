from __future__ import annotations

import pytest

from mana.entrypoints.harness import Harness, build_harness


@pytest.fixture
def h() -> Harness:
    """A fresh application on in-memory adapters: Alice and Bob, sharing ``sp_family``."""
    return build_harness()
