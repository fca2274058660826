"""The client against witnesses that misbehave: one that never answers costs the timeout and
no more, one that answers nonsense is reported, and neither stops the others."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from witness.client import WitnessClient, WitnessEndpoint

from .processes import WitnessProcess
from .testlog import GrowingLog


@pytest.fixture
def nonsense() -> Iterator[Callable[[int, str, bytes], str]]:
    """Witnesses answering a fixed status, content type and body to every request."""
    servers: list[ThreadingHTTPServer] = []

    def start(status: int, content_type: str, body: bytes) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_silent_witness_costs_the_timeout_and_no_more(
    log: GrowingLog, spawn: Callable[..., WitnessProcess], silent: str
) -> None:
    real = spawn("witness.example/w1", [f"{log.origin}={log.vkey}"])
    endpoints = [WitnessEndpoint("real", real.url), WitnessEndpoint("silent", silent)]
    timeout = 2.0  # ample for the real witness on a busy machine
    with WitnessClient(endpoints, timeout=timeout) as client:
        for _ in range(3):  # again and again: a hung witness never piles up
            log.grow(2)
            started = time.monotonic()
            result = client.add_checkpoint(log.note(), log.size, log.proof)
            elapsed = time.monotonic() - started
            assert timeout - 0.1 < elapsed < timeout + 1.0, elapsed
            assert {o.name: o.status for o in result.outcomes} == {
                "real": "cosigned",
                "silent": "timeout",
            }
            assert len(result.lines) == 1


def test_nonsense_answers_are_reported(
    log: GrowingLog, nonsense: Callable[[int, str, bytes], str]
) -> None:
    endpoints = [
        WitnessEndpoint("not-lines", nonsense(200, "text/plain", b"hello\n")),
        WitnessEndpoint("bad-size", nonsense(409, "text/x.tlog.size", b"twelve\n")),
        WitnessEndpoint("teapot", nonsense(418, "text/plain", b"short and stout\n")),
        WitnessEndpoint("always-409", nonsense(409, "text/x.tlog.size", b"1\n")),
    ]
    log.grow(3)
    with WitnessClient(endpoints, timeout=2.0) as client:
        result = client.add_checkpoint(log.note(), log.size, log.proof)
    outcomes = {o.name: o for o in result.outcomes}
    assert outcomes["not-lines"].status == "invalid_response"
    assert outcomes["bad-size"].status == "invalid_response"
    assert (outcomes["teapot"].status, outcomes["teapot"].http_status) == ("refused", 418)
    assert outcomes["teapot"].detail == "short and stout"
    assert outcomes["always-409"].status == "refused"  # gave up after three tries
    assert result.lines == ()


def test_a_proof_source_that_fails_is_reported(
    log: GrowingLog, spawn: Callable[..., WitnessProcess]
) -> None:
    real = spawn("witness.example/w1", [f"{log.origin}={log.vkey}"])
    log.grow(4)
    with WitnessClient([WitnessEndpoint("w1", real.url)], timeout=2.0) as client:
        assert client.add_checkpoint(log.note(), 4, log.proof).cosigned_by == ["w1"]
        log.grow(4)

        def no_proof(old: int, new: int) -> list[bytes]:
            raise LookupError(f"no proof from {old}")

        result = client.add_checkpoint(log.note(), 8, no_proof)
        (outcome,) = result.outcomes
        assert outcome.status == "proof_unavailable" and "no proof from 4" in outcome.detail
        with pytest.raises(ValueError):
            client.add_checkpoint(log.note(), 7, log.proof)  # the note is of size 8
