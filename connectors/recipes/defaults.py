"""Default recipes that built-in templates ship as templates/<key>/recipes/<domain>.<direction>.yaml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from connectors.registry import BUILTIN_TEMPLATES

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
DIRECTIONS = ("inbound", "outbound")


@dataclass(frozen=True, slots=True)
class DefaultRecipe:
    template_key: str
    domain: str
    direction: str
    path: Path
    spec: dict[str, Any]


def _folder_of(template_key: str) -> str:
    """A built-in template's package folder (``edi-x12`` lives in ``templates/edi``); else the key."""
    target = BUILTIN_TEMPLATES.get(template_key)
    return target.split(":")[0].split(".")[2] if target else template_key


def _key_of(folder: str) -> str:
    return next((key for key in BUILTIN_TEMPLATES if _folder_of(key) == folder), folder)


def _path(template_key: str, domain: str, direction: str, root: Path) -> Path | None:
    # the names come from callers (and so from URLs): keep them to plain names, never paths
    if not (_NAME.match(template_key) and _NAME.match(domain)) or direction not in DIRECTIONS:
        return None
    return root / _folder_of(template_key) / "recipes" / f"{domain}.{direction}.yaml"


def load_recipe_file(path: Path) -> dict[str, Any]:
    """A recipe file's spec; ``ValueError`` when it is not YAML describing a mapping."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: a recipe file holds one mapping")
    return spec


def default_recipe(
    template_key: str, domain: str, direction: str, *, root: Path = TEMPLATES_DIR
) -> dict[str, Any] | None:
    """The recipe spec a template ships for ``domain`` in ``direction``, or ``None`` when it ships none."""
    path = _path(template_key, domain, direction, root)
    if path is None or not path.is_file():
        return None
    return load_recipe_file(path)


def default_recipes(*, root: Path = TEMPLATES_DIR) -> list[DefaultRecipe]:
    """Every default recipe shipped under ``root``, sorted by template, domain and direction."""
    found: list[DefaultRecipe] = []
    for path in sorted(root.glob("*/recipes/*.yaml")):
        domain, _, direction = path.name.removesuffix(".yaml").rpartition(".")
        template_key = _key_of(path.parent.parent.name)
        if _path(template_key, domain, direction, root) != path:
            continue
        found.append(DefaultRecipe(template_key, domain, direction, path, load_recipe_file(path)))
    return found
