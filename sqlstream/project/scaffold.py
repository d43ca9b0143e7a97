"""``sqlstream init``: a working example project, copied from the package's template."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from sqlstream.errors import UserError


def template_dir() -> Path:
    return Path(str(resources.files("sqlstream.project") / "templates" / "project"))


def init_project(directory: Path) -> list[Path]:
    if directory.exists() and any(directory.iterdir()):
        raise UserError(
            f"{directory} exists and is not empty",
            None,
            "choose a new directory name; init never overwrites files",
        )
    src = template_dir()
    created: list[Path] = []
    for path in sorted(src.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        dest = directory / path.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        created.append(dest)
    return created
