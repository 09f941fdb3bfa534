"""The arrows of the layout (docs/design.md, "Layout"; docs/adr/0001), held by reading every
import of every module, including those inside functions and under TYPE_CHECKING:

    api -> schema -> domain -> models        workers -> domain -> models
    every layer may use core/, which uses nothing of the project
    nothing imports lapor/ (the command and composition root)
    the pure domain modules (domain/*.py) import no ORM, no database and no settings
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("core", "models", "domain", "schema", "api", "workers", "lapor")
# What each layer may import (beyond itself and third-party code).
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "models": {"core"},
    "domain": {"models", "core"},
    "schema": {"domain", "models", "core"},
    "api": {"schema", "domain", "models", "core"},
    "workers": {"domain", "models", "core"},
    "lapor": set(LAYERS),
}
# The pure rules: no ORM, no driver, no settings, no use cases (which do I/O).
PURE_FORBIDDEN = ("tortoise", "asyncpg", "redis", "arq", "core.settings", "domain.services")
PURE_ALLOWED_MODELS = ("models.enums",)


def _modules(layer: str) -> Iterator[Path]:
    yield from sorted((ROOT / layer).rglob("*.py"))


def _imports(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def _layer(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in LAYERS else None


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_imports_only_the_layers_below_it(layer: str) -> None:
    wrong = []
    for path in _modules(layer):
        for module in _imports(path):
            target = _layer(module)
            if target not in (None, layer) and target not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wrong == []


def test_the_pure_domain_modules_import_no_orm_no_database_and_no_settings() -> None:
    pure = sorted((ROOT / "domain").glob("*.py"))
    assert len(pure) > 10, "the pure modules moved?"
    wrong = []
    for path in pure:
        for module in _imports(path):
            orm = module.startswith("models") and module not in PURE_ALLOWED_MODELS
            if orm or module.startswith(PURE_FORBIDDEN):
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wrong == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The reading above finds imports wherever they hide (a test that could fail)."""
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from api.app import create_app\n"
        "def f():\n    import lapor.cli\n"
    )
    assert set(_imports(module)) == {"typing", "api.app", "lapor.cli"}
