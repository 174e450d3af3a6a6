"""The test tree's own rule: test modules share code only through ``tests/support`` and
fixtures, never by importing one another (a test module is not a library)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def imported_test_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return [
        name
        for name in names
        if name == "tests" or (name.startswith("tests.") and not name.startswith("tests.support"))
    ]


@pytest.mark.slow
def test_test_modules_import_only_the_support_package() -> None:
    offenders = {
        str(path.relative_to(TESTS)): found
        for path in sorted(TESTS.rglob("*.py"))
        if (found := imported_test_modules(path))
    }
    assert offenders == {}


def test_the_rule_sees_an_import_of_a_test_module() -> None:
    sample = TESTS / "support" / "__init__.py"
    assert imported_test_modules(sample) == []
    tree_with_import = "from tests.web.test_durability import check_log\nimport tests.conftest\n"
    probe = Path(TESTS.parent / ".layout-probe.py")
    probe.write_text(tree_with_import, encoding="utf-8")
    try:
        assert imported_test_modules(probe) == [
            "tests.web.test_durability",
            "tests.web.test_durability.check_log",
            "tests.conftest",
        ]
    finally:
        probe.unlink()
