"""The audit's signatures verified on other threads (anchoring/audit_signatures.py): every
verdict is ``PublicKey.verify`` of the same key, body and signature, across chunks; the
walk reports a bad signature exactly as before."""

from __future__ import annotations

import base64
import json
import os
import random
import sys
import threading
from pathlib import Path

from nacl.signing import SigningKey

from anchoring import audit_signatures
from anchoring.audit import audit
from anchoring.audit_signatures import SignatureQueue
from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.sealer import SealPolicy
from ledger.config import store_env
from streams.ed25519 import GROUP_ORDER, PublicKey
from tests.anchoring.stores import item_row, new_anchor, record_items, set_state
from tests.support import make_world

ORIGIN = "assay.test/custody-log"


def _checks(count: int) -> list[tuple[PublicKey, bytes, bytes]]:
    """Honest signatures of a few keys and their spoilt forms: a flipped bit of R, S or
    the message, S + L (non-canonical), a small-order R, another key's signature."""
    rng = random.Random(20261204)
    signers = [SigningKey(rng.randbytes(32)) for _ in range(3)]
    out = []
    for n in range(count):
        signer = signers[n % 3]
        message = rng.randbytes(n % 300)
        signature = bytearray(signer.sign(message).signature)
        key = PublicKey(bytes(signer.verify_key))
        match n % 6:
            case 1:
                signature[rng.randrange(64)] ^= 1 << rng.randrange(8)
            case 2:
                s = int.from_bytes(signature[32:], "little") + GROUP_ORDER
                signature[32:] = s.to_bytes(32, "little")
            case 3:
                signature[:32] = (1).to_bytes(32, "little")  # the identity: small order
            case 4:
                message += b"!"
            case 5:
                key = PublicKey(bytes(signers[(n + 1) % 3].verify_key))
        out.append((key, message, bytes(signature)))
    return out


def test_every_verdict_is_the_keys_own_across_chunks() -> None:
    checks = _checks(3 * audit_signatures.CHUNK + 17)
    queue = SignatureQueue()
    tickets = [queue.submit(*check) for check in checks]
    # The first chunk is asked before the partial one is started (it starts on demand).
    assert SignatureQueue.verdict(tickets[0]) is checks[0][0].verify(checks[0][1], checks[0][2])
    queue.flush()
    verdicts = [SignatureQueue.verdict(ticket) for ticket in reversed(tickets)][::-1]
    assert verdicts == [key.verify(message, signature) for key, message, signature in checks]
    assert verdicts.count(True) == len(checks) // 6 + 1  # the honest ones only


def test_a_partial_chunk_not_flushed_still_answers() -> None:
    checks = _checks(5)
    queue = SignatureQueue()
    tickets = [queue.submit(*check) for check in checks]
    assert [SignatureQueue.verdict(t) for t in tickets] == [True, False, False, False, False]


def test_a_signature_submitted_after_an_early_verdict_goes_to_a_new_chunk() -> None:
    """A verdict asked of the chunk still filling starts it with the checks it has; what
    is submitted after lands in a chunk of its own (it once joined the started one and its
    verdict read past the native answers)."""
    checks = _checks(4)
    queue = SignatureQueue()
    first = queue.submit(*checks[0])
    assert SignatureQueue.verdict(first) is True
    later = [queue.submit(*check) for check in checks[1:]]
    assert all(chunk is not first[0] for chunk, _ in later)
    assert [SignatureQueue.verdict(t) for t in later] == [False, False, False]
    assert len(first[0].checks) == 1


def _tasks() -> int:
    return len(os.listdir("/proc/self/task"))


def test_the_verifier_threads_are_at_most_one_per_core() -> None:
    """Many chunks in flight at once (a 10,000-event block starts 78) and a tail verified
    one signature at a time (each its own chunk) run on no more threads than the cores
    this process may use: counted in /proc/self/task while they run (each chunk once
    started a thread of its own), and by the native pool."""
    from assay_headmap import ed25519_threads

    cores = len(os.sched_getaffinity(0))
    # (long messages: each chunk's thread works long enough to be seen)
    checks = [(key, message * 100, signature) for key, message, signature in _checks(5120)]
    before = _tasks()
    peak = before
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tasks())

    watcher = threading.Thread(target=watch)
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # the watcher looks often, the submits go on
    watcher.start()
    try:
        queue = SignatureQueue()
        tickets = [queue.submit(*check) for check in checks]
        queue.flush()
        verdicts = [SignatureQueue.verdict(ticket) for ticket in tickets]
        tail = []
        for check in checks[:300]:
            queue.flush()  # as the walk does after each unsealed record
            tail.append(SignatureQueue.verdict(queue.submit(*check)))
    finally:
        stop.set()
        watcher.join()
        sys.setswitchinterval(switching)
    assert verdicts == [key.verify(message, signature) for key, message, signature in checks]
    assert tail == verdicts[:300]
    started, cap, _ = ed25519_threads()
    assert 1 <= started <= cap <= cores
    assert peak - before - 1 <= cores  # (the watcher is one)


def _flip_signature(state: bytes) -> bytes:
    """The stored state with one bit of its envelope's signature (its last 64 bytes)
    flipped: still the envelope's canonical encoding, still JSON and base64."""
    data = json.loads(state)
    encoded = data["envelope"]["_data_"]
    raw = bytearray(base64.b64decode(encoded))
    raw[-5] ^= 0x10
    return state.replace(encoded.encode(), base64.b64encode(bytes(raw)))


def test_a_bad_signature_is_reported_as_before(tmp_path: Path) -> None:
    """Sealed in blocks of more than a chunk (clean), then a tail event's signature spoilt:
    the divergence names it, and its device and enrolment, exactly as the checks word it."""
    world = make_world(tmp_path)
    record_items(world, 0, 40)
    signer = Signer.from_seed(ORIGIN, bytes(range(32)))
    chain = Chain(store_env("", tmp_path / "chain.sqlite"))
    policy = SealPolicy(max_events=2 * audit_signatures.CHUNK + 3, max_seconds=1e9)
    new_anchor(world.ledger, chain, signer, tmp_path, origin=ORIGIN, policy=policy).catch_up()
    report = audit(world.ledger, chain)
    assert report.ok, report.divergence
    assert report.leaves > 2 * audit_signatures.CHUNK
    record_items(world, 40, 1)
    db = tmp_path / "ledger.sqlite"
    rowid, state = item_row(db, "urn:item:40", 2)
    set_state(db, rowid, _flip_signature(state))
    divergence = audit(world.ledger, Chain(store_env("", tmp_path / "chain.sqlite"))).divergence
    assert divergence is not None
    assert divergence.startswith(f"ledger event {rowid} (urn:item:40 v2; not sealed yet): ")
    assert "its signature does not verify with the key of " in divergence
    assert " enrolled by ledger event " in divergence
