"""``sqlstream init``: a working example project, copied from the package's template."""

from __future__ import annotations

import re
import shutil
from importlib import resources
from pathlib import Path

from sqlstream.errors import UserError


def template_dir() -> Path:
    return Path(str(resources.files("sqlstream.project") / "templates" / "project"))


_NAME_LINE = re.compile(r"^name: .*$", re.MULTILINE)
_NOT_NAME = re.compile(r"[^a-z0-9_]+")


def project_name(directory: Path) -> str:
    """The project name ``init`` writes: the folder's name, as a safe identifier.

    Checkpoints live under ``<root>/<project name>/``, so two projects made by ``init`` must not
    share a name (they all were ``demo`` once, and their checkpoints collided).
    """
    name = _NOT_NAME.sub("_", directory.resolve().name.lower()).strip("_")
    return name or "pipelines"


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
    config = directory / "sqlstream.yml"
    text = config.read_text(encoding="utf-8")
    config.write_text(_NAME_LINE.sub(f"name: {project_name(directory)}", text, count=1), "utf-8")
    return created
