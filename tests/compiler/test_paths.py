"""``env.below``, the fast path of ``display_path`` and of the paths ``compile`` writes: what
``os.path.relpath`` gives for a path inside the folder, None for any other."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as hs

from sqlstream.project.env import below, display_path

PART = hs.sampled_from(["a", "b", "a-b", "a.b", "ab", "..", ".", "q.sql", "a b"])
PATH = hs.lists(PART, min_size=0, max_size=5).map(lambda parts: os.path.join("/", *parts))


@given(PATH, PATH)
def test_below_is_relpath_inside_the_folder(path: str, folder: str) -> None:
    path, folder = os.path.abspath(path), os.path.abspath(folder)
    rel = os.path.relpath(path, folder)
    inside = rel != "." and rel != ".." and not rel.startswith(".." + os.sep)
    assert below(path, folder) == (rel if inside else None)


@given(PATH)
def test_display_path_is_what_relpath_gave(path: str) -> None:
    rel = os.path.relpath(path)
    assert display_path(path) == (path if rel.startswith("..") else rel)
