"""PostgreSQL for the test session: ``$ASSAY_TEST_DATABASE_URL`` if set, else a private
cluster started from Debian's ``postgresql`` binaries in a temp dir on a free port.

The PostgreSQL leg is part of the suite: a missing server is a failure that says what to
install, never a skip. Each test that asks for ``database_url`` gets a fresh database.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

URL_ENV = "ASSAY_TEST_DATABASE_URL"
SUPERUSER = "assay"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        pytest.fail(
            "the PostgreSQL leg needs a PostgreSQL server: install Debian's `postgresql` "
            f"package (apt-get install postgresql) or set {URL_ENV}=postgresql://…",
            pytrace=False,
        )
    return Path(candidates[-1]).parent


def _as_owner(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; run them as Debian's postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class PrivateCluster:
    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="assay-pg-"))
        self.port = _free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"

    def start(self) -> str:
        subprocess.run(
            _as_owner(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root} -c fsync=off "
            "-c max_connections=200"
        )
        subprocess.run(
            _as_owner(
                [
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-l",
                    str(self.root / "server.log"),
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def pid(self) -> int:
        """The running server's postmaster (its backends are its children)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        subprocess.run(
            _as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    configured = os.environ.get(URL_ENV)
    if configured:
        yield configured
        return
    cluster = PrivateCluster()
    try:
        url = cluster.start()
    except subprocess.CalledProcessError as e:
        cluster.stop()
        pytest.fail(f"could not start PostgreSQL: {e.stderr!r}", pytrace=False)
    try:
        yield url
    finally:
        cluster.stop()


def _with_database(server_url: str, name: str) -> str:
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _with_database(postgres_server, name)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run a test once per event-store backend: "" (SQLite file) and a PostgreSQL DSN."""
    if request.param == "sqlite":
        return ""
    url: str = request.getfixturevalue("postgres_url")
    return url
