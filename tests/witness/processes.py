"""Real ``assay witness`` processes on loopback: init a key, serve, kill, restart."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def assay_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def assay(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "assay", *args],
        capture_output=True,
        text=True,
        env=assay_env(),
        timeout=60,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"assay {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done


@dataclass
class WitnessProcess:
    """One witness: its key and state in ``home``, its server on ``port``."""

    name: str
    home: Path
    logs: list[str]
    port: int = field(default_factory=free_port)
    vkey: str = ""
    process: subprocess.Popen[bytes] | None = None
    #: More arguments of ``assay witness serve``.
    args: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        key = self.home / "witness.key"
        if not key.exists():
            self.vkey = assay("witness", "init", "--name", self.name, "--out", str(key)).stdout
            self.vkey = self.vkey.strip()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WitnessProcess:
        command = [sys.executable, "-m", "assay", "witness", "serve"]
        command += ["--key", str(self.home / "witness.key"), "--state", str(self.home)]
        command += ["--port", str(self.port)]
        for entry in self.logs:
            command += ["--log", entry]
        command += self.args
        with (self.home / "serve.log").open("ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=assay_env()
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"witness {self.name} exited:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if json.loads(response.read())["status"] == "ok":
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"witness {self.name} not ready in 30 s:\n{self.log_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def log_text(self) -> str:
        path = self.home / "serve.log"
        return path.read_text(errors="replace") if path.exists() else ""
