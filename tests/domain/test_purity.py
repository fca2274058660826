"""The domain is pure Python: it imports no messaging, serialisation, database or crypto code.

Checked on the source (every import statement of every module in ``domain/``, including
imports inside functions) and at run time (importing the domain loads none of them).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
MODULES = sorted(DOMAIN.glob("*.py"))

# Infrastructure the domain must never reach, directly or through another package.
FORBIDDEN = {
    "kafka", "confluent_kafka", "aiokafka", "faust", "quixstreams",  # messaging
    "avro", "fastavro",  # serialisation
    "duckdb", "sqlite3", "sqlalchemy", "psycopg", "psycopg2", "asyncpg",  # databases
    "nacl", "cryptography",  # keys and signatures
    "socket", "http", "urllib", "requests", "subprocess", "importlib",  # I/O, dynamic imports
    "streams", "ledger", "anchoring", "projections", "assay",  # the project's outer layers
}  # fmt: skip
ALLOWED_EVENTSOURCING = {"eventsourcing.domain"}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names.add("domain")  # a relative import stays inside the package
            elif node.module:
                names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            names.add("__import__")
    return names


def test_every_domain_module_is_checked() -> None:
    assert {p.stem for p in MODULES} >= {"custody", "errors", "items", "parties", "tags"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_a_domain_module_imports_only_the_standard_library_and_eventsourcing(path: Path) -> None:
    for name in imports_of(path):
        top = name.split(".")[0]
        assert top not in FORBIDDEN, f"{path.name} imports {name}"
        assert name != "__import__", f"{path.name} imports dynamically"
        if top == "eventsourcing":
            assert name in ALLOWED_EVENTSOURCING, f"{path.name} imports {name}"
        else:
            assert top in sys.stdlib_module_names or top in {"domain", "__future__"}, (
                f"{path.name} imports {name}, which is neither the standard library, "
                f"eventsourcing.domain nor the domain"
            )


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f():\n    from fastavro import reader\n    import kafka.admin\n")
    assert imports_of(sneaky) == {"fastavro", "kafka.admin"}


def test_importing_the_domain_loads_no_infrastructure() -> None:
    modules = ", ".join(f"domain.{p.stem}" for p in MODULES if p.stem != "__init__")
    code = (
        f"import sys, {modules}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    loaded = set(subprocess.check_output([sys.executable, "-c", code], text=True).split())
    stdlib_plumbing = {"socket", "http", "urllib", "subprocess", "importlib"}
    assert not loaded & (FORBIDDEN - stdlib_plumbing), loaded & FORBIDDEN
