"""Fixtures for the witness tests: a growing test log and real witness processes."""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .processes import WitnessProcess
from .testlog import GrowingLog


@dataclass(frozen=True)
class HttpReply:
    status: int
    content_type: str
    body: bytes


def post(url: str, body: bytes, timeout: float = 10.0) -> HttpReply:
    request = urllib.request.Request(url, data=body, method="POST")
    return _send(request, timeout)


def get(url: str, timeout: float = 10.0) -> HttpReply:
    return _send(urllib.request.Request(url), timeout)


def _send(request: urllib.request.Request, timeout: float) -> HttpReply:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpReply(response.status, response.headers["Content-Type"], response.read())
    except urllib.error.HTTPError as e:
        return HttpReply(e.code, e.headers["Content-Type"], e.read())


@pytest.fixture
def log() -> GrowingLog:
    return GrowingLog("example.com/custody-log")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., WitnessProcess]]:
    """Start witness processes for the test; every one is stopped at the end."""
    started: list[WitnessProcess] = []

    def start(name: str, logs: list[str]) -> WitnessProcess:
        process = WitnessProcess(name, tmp_path / name.replace("/", "_"), logs).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def silent() -> Iterator[str]:
    """A TCP server that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()
