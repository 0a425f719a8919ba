"""Dependencies point down: frameworks ← catalogue ← mapping ← records ← coverage.

A lower layer that must tell a higher one something calls a hook the higher one
registers (``mapping.services.MAPPED_HOOKS``, ``catalogue.CARRIED_HOOKS``,
``records.services.STORED_HOOKS``); it never imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "capcourse"
LAYERS = ["frameworks", "catalogue", "mapping", "records", "coverage"]
#: Pages that show a higher layer's screen inside a lower layer's page: composition of screens, left as it is.
PAGES_LEFT = {
    ("catalogue/pages.py", "capcourse.mapping.screen"),
    ("frameworks/area_pages.py", "capcourse.catalogue.pages"),
    ("frameworks/crosswalk_pages.py", "capcourse.catalogue.pages"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _upward(layer: str, above: list[str]) -> list[str]:
    found = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for name in sorted(_imports(path)):
            upward = any(name == f"capcourse.{a}" or name.startswith(f"capcourse.{a}.") for a in above)
            if upward and (relative, name) not in PAGES_LEFT:
                found.append(f"{relative} imports {name}")
    return found


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_a_layer_imports_none_above_it(layer: str) -> None:
    assert _upward(layer, LAYERS[LAYERS.index(layer) + 1 :]) == []


def test_accounts_need_no_framework_nor_layer_above_the_catalogue() -> None:
    """People and keys are given access by programme (the catalogue's), nothing else of the domains;
    ``utcnow`` comes from ``capcourse.timestamps``, not the frameworks' models."""
    found = []
    for name in ("models.py", "services.py", "auth.py", "access.py"):
        found += [
            f"accounts/{name} imports {module}"
            for module in sorted(_imports(PACKAGE / "accounts" / name))
            if any(module.startswith(f"capcourse.{layer}") for layer in LAYERS if layer != "catalogue")
        ]
    assert found == []
