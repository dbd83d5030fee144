"""The import-linter contracts in pyproject.toml catch a forbidden import.

Each case copies the source tree, writes one forbidden import into the copy and runs `lint-imports`
on it: the named contract must break. The untouched copy keeps every contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PURE = "Domain rules are pure"
CONTRACTS = "Wire contracts are plain data"


def copy_tree(into: Path) -> Path:
    for package in ("shared", "services", "demo"):
        shutil.copytree(ROOT / package, into / package, ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", into / "pyproject.toml")
    return into


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the copy, not the installed checkout
    command = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"]
    return subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=120)


def test_the_tree_as_it_is_keeps_every_contract(tmp_path: Path) -> None:
    done = lint_imports(copy_tree(tmp_path))
    assert done.returncode == 0, done.stdout
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("services/tracking/domain/suppression.py", "import sqlalchemy", PURE),  # a rule module in domain/
        ("services/wellness/domain/load.py", "from shared import runner", PURE),  # deep in a domain package
        ("services/matching/domain/__init__.py", "from shared.db import make_engine", PURE),
        # I/O at one remove
        ("services/intake/domain/__init__.py", "from services.intake import projection", PURE),
        ("services/escalation/domain/policies.py", "from shared.clock import Clock", PURE),
        ("shared/contracts/base.py", "import nats", CONTRACTS),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    tree = copy_tree(tmp_path)
    target = tree / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    done = lint_imports(tree)
    assert done.returncode != 0, done.stdout
    broken = [row for row in done.stdout.splitlines() if row.endswith("BROKEN")]
    assert [row for row in broken if row.startswith(contract)], done.stdout
    assert module.removesuffix(".py").removesuffix("/__init__").replace("/", ".") in done.stdout
