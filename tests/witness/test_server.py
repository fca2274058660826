"""`assay witness serve` as a real process: every status code of C2SP tlog-witness, the
monitoring endpoint, JSON for everything outside the protocol, and a restart that keeps
the cosigned state."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from anchoring.checkpoint import Signer, sign_note
from witness.core import Witness
from witness.cosignature import WitnessSigner, WitnessVerifier
from witness.note import TreeHead, parse_note
from witness.protocol import MAX_REQUEST_BYTES, AddCheckpoint
from witness.server import create_app
from witness.state import StateStore

from .conftest import HttpReply, get, post
from .processes import WitnessProcess, assay
from .testlog import GrowingLog

EMPTY_ROOT = hashlib.sha256(b"").digest()


def add(
    witness: WitnessProcess, old: int, note: str, proof: list[bytes] | None = None
) -> HttpReply:
    return post(
        witness.url + "/add-checkpoint", AddCheckpoint(old, tuple(proof or ()), note).encode()
    )


def test_every_status_code_of_the_protocol(
    log: GrowingLog, spawn: Callable[..., WitnessProcess]
) -> None:
    fresh = GrowingLog("example.com/fresh-log")
    w = spawn("witness.example/w1", [f"{log.origin}={log.vkey}", fresh.vkey])
    verifier = WitnessVerifier.from_text(w.vkey)

    log.grow(5)
    first = add(w, 0, log.note())
    assert first.status == 200, first.body
    assert first.content_type.startswith("text/plain")
    assert verifier.verify(log.head().body(), first.body.decode()) > 0

    log.grow(3)
    stale = add(w, 0, log.note())  # the witness holds 5, not 0
    assert (stale.status, stale.content_type, stale.body) == (409, "text/x.tlog.size", b"5\n")
    caught_up = add(w, 5, log.note(), log.proof(5, 8))
    assert caught_up.status == 200, caught_up.body

    assert add(w, 9, log.note()).status == 400  # old size above the checkpoint's
    malformed = [
        b"old 8\n" + log.note().encode(),  # no empty line before the checkpoint
        b"old 08\n\n" + log.note().encode(),  # leading zero
        b"old 5\nnot base64!\n\n" + log.note().encode(),
        b"old 8\n\n" + log.head().body().encode(),  # a body without signatures
        b"old 8\n\n\xff\xfe",
    ]
    for body in malformed:
        reply = post(w.url + "/add-checkpoint", body)
        assert reply.status == 400, (body, reply)
        assert reply.content_type.startswith("text/plain")

    stranger = GrowingLog("example.com/unknown-log")
    stranger.grow(1)
    assert add(w, 0, stranger.note()).status == 404

    impostor = Signer.generate(log.origin)  # right name, another key
    assert add(w, 8, sign_note(log.head().body(), impostor)).status == 403
    forged = _flip_last_signature_bit(log.note())
    assert add(w, 8, forged).status == 403

    log.grow(4)
    bad_proof = [bytes(32)] * len(log.proof(8, 12))
    assert add(w, 8, log.note(), bad_proof).status == 422
    assert add(w, 8, log.note(), log.proof(8, 12)[:-1]).status == 422

    fresh_empty_bad = sign_note(TreeHead(fresh.origin, 0, bytes(32)).body(), fresh.signer)
    assert add(w, 0, fresh_empty_bad).status == 422  # size 0 must carry SHA-256("")
    fresh.grow(2)
    assert add(w, 0, fresh.note(), [bytes(32)]).status == 422  # old 0 takes no proof
    assert add(w, 0, fresh.note()).status == 200

    assert add(w, 8, log.note(), log.proof(8, 12)).status == 200
    again = add(w, 12, log.note())  # the same checkpoint again: a fresh cosignature
    assert again.status == 200

    too_big = post(w.url + "/add-checkpoint", b"old 0\n\n" + b"x" * MAX_REQUEST_BYTES)
    assert too_big.status == 413 and json.loads(too_big.body)["error"] == "too_large"
    unknown_path = get(w.url + "/nothing-here")
    assert unknown_path.status == 404 and json.loads(unknown_path.body)["error"] == "not_found"
    wrong_method = get(w.url + "/add-checkpoint")
    assert wrong_method.status == 405 and json.loads(wrong_method.body)["error"]


def test_the_monitoring_endpoint_serves_the_cosigned_checkpoint(
    log: GrowingLog, spawn: Callable[..., WitnessProcess]
) -> None:
    w = spawn("witness.example/w1", [f"{log.origin}={log.vkey}"])
    origin_hash = hashlib.sha256(log.origin.encode()).hexdigest()
    assert get(f"{w.url}/{origin_hash}/checkpoint").status == 404
    log.grow(7)
    line = add(w, 0, log.note()).body.decode()
    served = get(f"{w.url}/{origin_hash}/checkpoint")
    assert served.status == 200
    note = parse_note(served.body.decode())
    assert note.text == log.head().body()
    assert note.signatures[-1].text() == line
    assert note.signatures[0].name == log.origin  # the log's verified signature is kept


def test_a_restarted_witness_keeps_its_state(
    log: GrowingLog, spawn: Callable[..., WitnessProcess]
) -> None:
    w = spawn("witness.example/w1", [f"{log.origin}={log.vkey}"])
    log.grow(10)
    assert add(w, 0, log.note()).status == 200
    w.stop()
    w.start()
    log.grow(1)
    reply = add(w, 0, log.note())
    assert (reply.status, reply.body) == (409, b"10\n")
    assert add(w, 10, log.note(), log.proof(10, 11)).status == 200


def test_a_fork_and_a_rollback_are_refused_and_kept_as_evidence(
    log: GrowingLog, spawn: Callable[..., WitnessProcess]
) -> None:
    w = spawn("witness.example/w1", [f"{log.origin}={log.vkey}"])
    log.grow(6)
    assert add(w, 0, log.note()).status == 200
    held = log.note()
    fork = log.fork(at=4)
    fork.grow(2)  # size 6 again, another root, signed by the same log key
    assert add(w, 6, fork.note(), fork.proof(6, 6)).status == 422
    rollback = add(w, 4, log.note(4))  # an older head: refused whatever the old size
    assert (rollback.status, rollback.body) == (409, b"6\n")
    assert add(w, 6, log.note(4)).status == 400  # old 6 > size 4

    out = assay("witness", "evidence", "--state", str(w.home)).stdout
    assert "fork of example.com/custody-log" in out and "rollback" in out
    assert held.split("\n\n")[0] in out and fork.head().body().strip() in out
    records = json.loads(assay("witness", "evidence", "--state", str(w.home), "--json").stdout)
    kinds = sorted({r["kind"] for r in records})
    assert kinds == ["fork", "rollback"]
    fork_record = next(r for r in records if r["kind"] == "fork")
    assert parse_note(fork_record["offered_note"]).text == fork.head().body()
    assert parse_note(fork_record["held_note"]).text == log.head().body()

    # Still cosigning the honest log afterwards.
    log.grow(1)
    assert add(w, 6, log.note(), log.proof(6, 7)).status == 200


def _flip_last_signature_bit(note: str) -> str:
    parsed = parse_note(note)
    line = parsed.signatures[0]
    flipped = type(line)(
        line.name, line.key_id, line.signature[:-1] + bytes([line.signature[-1] ^ 1])
    )
    return type(parsed)(parsed.text, (flipped,)).to_text()


def test_an_internal_error_is_a_bare_json_500(tmp_path: Path) -> None:
    """A store that fails (here: closed under the server) never leaks a traceback."""
    from starlette.testclient import TestClient

    log = GrowingLog()
    store = StateStore(tmp_path)
    witness = Witness(
        WitnessSigner.generate("w.example"), {log.origin: [log.signer.verifier()]}, store
    )
    log.grow(2)
    with TestClient(create_app(witness), raise_server_exceptions=False) as client:
        store.close()
        reply = client.post("/add-checkpoint", content=AddCheckpoint(0, (), log.note()).encode())
    assert reply.status_code == 500
    assert reply.json() == {"error": "internal", "message": "internal error"}
