"""Helpers of the CLI tests: a free loopback port, and a broker a test may stop."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assay(
    *args: str,
    env: dict[str, str],
    timeout: float = 300,
    cwd: Path | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """One ``assay`` command in its own process, with exactly this environment (and this
    working directory and standard input, if given)."""
    return subprocess.run(
        [sys.executable, "-m", "assay", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
    )
