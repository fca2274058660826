"""`assay witness serve --metrics-port`: a scrape counts what the witness answered — each
cosignature issued, each refusal by the protocol's reason, every request by route and status
with its latency — and SIGTERM stops the server with one line."""

from __future__ import annotations

import hashlib
import signal
import time
from pathlib import Path

from anchoring.checkpoint import Signer, sign_note
from tests.scrape import Samples, family, scrape, value
from witness.protocol import MAX_REQUEST_BYTES, AddCheckpoint

from .conftest import get, post
from .processes import WitnessProcess, free_port
from .testlog import GrowingLog


def add(witness: WitnessProcess, old: int, note: str, proof: list[bytes] | None = None) -> int:
    body = AddCheckpoint(old, tuple(proof or ()), note).encode()
    return post(witness.url + "/add-checkpoint", body).status


def settled_scrape(port: int, answered: int, timeout: float = 30) -> Samples:
    """A scrape once ``answered`` requests other than readiness probes are counted: the
    middleware counts a request after its reply has gone out, so the client can read a
    reply before the count of it moves."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(port)
        counted = sum(
            n
            for labels, n in family(samples, "assay_http_requests_total").items()
            if dict(labels)["server"] == "witness" and dict(labels)["route"] != "/healthz"
        )
        if counted >= answered or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def test_a_scrape_counts_cosignatures_refusals_and_requests(
    log: GrowingLog, tmp_path: Path
) -> None:
    port = free_port()
    w = WitnessProcess(
        "witness.example/metrics", tmp_path / "w", [f"{log.origin}={log.vkey}"],
        args=["--metrics-port", str(port)],
    ).start()  # fmt: skip
    try:
        assert value(scrape(port), "assay_witness_cosignatures_issued_total") == 0
        log.grow(5)
        statuses = [add(w, 0, log.note())]  # cosigned
        log.grow(3)
        statuses.append(add(w, 0, log.note()))  # 409: the witness holds 5
        statuses.append(add(w, 5, log.note(), log.proof(5, 8)))  # cosigned
        statuses.append(post(w.url + "/add-checkpoint", b"old 08\n\n" + log.note().encode()).status)
        stranger = GrowingLog("example.com/unknown-log")
        stranger.grow(1)
        statuses.append(add(w, 0, stranger.note()))  # 404
        impostor = Signer.generate(log.origin)
        statuses.append(add(w, 8, sign_note(log.head().body(), impostor)))  # 403
        log.grow(4)
        statuses.append(add(w, 8, log.note(), [bytes(32)] * len(log.proof(8, 12))))  # 422
        too_big = b"old 0\n\n" + b"x" * MAX_REQUEST_BYTES
        statuses.append(post(w.url + "/add-checkpoint", too_big).status)
        statuses.append(add(w, 8, log.note(), log.proof(8, 12)))  # cosigned
        assert statuses == [200, 409, 200, 400, 404, 403, 422, 413, 200]
        origin_hash = hashlib.sha256(log.origin.encode()).hexdigest()
        assert get(f"{w.url}/{origin_hash}/checkpoint").status == 200
        assert get(f"{w.url}/no/such/path").status == 404

        samples = settled_scrape(port, answered=11)
        assert value(samples, "assay_witness_cosignatures_issued_total") == 3
        refused = family(samples, "assay_witness_checkpoints_refused_total")
        assert refused == {
            (("code", code),): 1.0
            for code in ("size_conflict", "malformed", "unknown_log", "unverified",
                         "inconsistent", "too_large")
        }  # fmt: skip
        requests = {
            (labels["route"], labels["method"], labels["status"]): n
            for labels, n in (
                (dict(k), n) for k, n in family(samples, "assay_http_requests_total").items()
            )
            if labels["server"] == "witness"
        }
        # The readiness probe's GET /healthz calls are counted too, at least one of them.
        assert requests.pop(("/healthz", "GET", "200")) >= 1
        assert requests == {
            ("/add-checkpoint", "POST", "200"): 3,
            ("/add-checkpoint", "POST", "409"): 1,
            ("/add-checkpoint", "POST", "400"): 1,
            ("/add-checkpoint", "POST", "404"): 1,
            ("/add-checkpoint", "POST", "403"): 1,
            ("/add-checkpoint", "POST", "422"): 1,
            ("/add-checkpoint", "POST", "413"): 1,
            ("/{origin_hash:str}/checkpoint", "GET", "200"): 1,
            ("other", "GET", "404"): 1,
        }
        timed = value(samples, "assay_http_request_seconds_count", route="/add-checkpoint",
                      server="witness")  # fmt: skip
        assert timed == 9
        assert value(samples, "assay_http_request_seconds_sum", route="/add-checkpoint",
                     server="witness") > 0  # fmt: skip
    finally:
        process = w.process
        assert process is not None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert "assay witness serve: stopped serving" in w.log_text()
    assert "(stopped on SIGTERM)" in w.log_text()
