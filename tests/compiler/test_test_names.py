"""pytest imports test modules by their base name (rootdir mode): two with one name stop a run
of the whole suite at collection, though each folder passes alone."""

from __future__ import annotations

import collections
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_has_its_own_name() -> None:
    names = collections.Counter(p.name for p in TESTS.rglob("test_*.py") if "golden" not in p.parts)
    assert [name for name, n in names.items() if n > 1] == []
