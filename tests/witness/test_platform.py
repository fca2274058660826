"""Acceptance: the platform's anchor with three real `assay witness serve` processes and
a 2-of-3 policy, on loopback.

* bundles proven after `assay anchor --once` verify with quorum (`assay verify
  --witness-policy`); with one witness killed they still do; with two killed new bundles
  fail with `witness_quorum`, and pass once one witness returns and is caught up;
* a forked checkpoint (same size, another root, signed by the platform key) is refused by
  every witness, a rollback too, and both are kept as evidence (`assay witness evidence`);
* a running anchor keeps sealing while a witness is SIGKILLed mid-request 20 times, the
  witness's state never goes backwards, and every checkpoint still reaches quorum.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from anchoring.checkpoint import sign_note
from anchoring.checkpoint_file import note_size
from anchoring.keyfiles import read_signer_key
from assay import runtime
from assay.settings import Settings
from ledger.application import Report
from streams.envelope import seal
from tests.support import World, make_world, story_events
from witness.client import WitnessClient, WitnessEndpoint
from witness.note import TreeHead, parse_note
from witness.policy import evaluate, load_policy

from .inprocess import policy_text
from .processes import WitnessProcess, assay

pytestmark = pytest.mark.slow

ORIGIN = "assay.example/custody-log"


@dataclass
class Platform:
    data: Path
    world: World
    witnesses: list[WitnessProcess]
    policy: Path
    items: int = 0

    def record_item(self) -> str:
        self.items += 1
        item = f"urn:item:{self.items}"
        for event in story_events(item, f"TAG-{self.items}"):
            report = Report(event, seal(event, self.world.keys[event.party_id]))
            (decision,) = self.world.ledger.process([report], None)
            assert decision.accepted, decision
        return item

    def cli(self, *args: str, check: bool = True) -> str:
        done = assay("--data-dir", str(self.data), *args, check=check)
        return done.stdout

    def verify(self, item: str, bundle: Path) -> tuple[int, dict[str, Any]]:
        self.cli("prove", item, "-o", str(bundle))
        key = str(self.data / "keys" / "platform.pub")
        done = assay("verify", str(bundle), "--key", key, "--witness-policy", str(self.policy),
                     "--json", check=False)  # fmt: skip
        return done.returncode, json.loads(done.stdout)


@pytest.fixture
def platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spawn: Callable[..., WitnessProcess]
) -> Iterator[Platform]:
    data = tmp_path / "data"
    world = make_world(data)
    assay("--data-dir", str(data), "keys", "init")
    pub = data / "keys" / "platform.pub"
    witnesses = [spawn(f"p{n}.example/witness", [f"{ORIGIN}=@{pub}"]) for n in (1, 2, 3)]
    policy = tmp_path / "policy"
    keys = {f"p{n}": (w.vkey, w.url) for n, w in enumerate(witnesses, 1)}
    policy.write_text(policy_text(pub.read_text().strip(), keys, 2))
    monkeypatch.setenv("ASSAY_WITNESS_POLICY", str(policy))
    yield Platform(data, world, witnesses, policy)


def cosigned(verdict: dict[str, Any]) -> list[str]:
    """The policy witnesses `assay verify --json` counted."""
    return [c["name"] for c in verdict["witnesses"]["cosigned"]]


def stored_size(w: WitnessProcess) -> int:
    db = sqlite3.connect(w.home / "witness.sqlite")
    try:
        row = db.execute("SELECT size FROM logs WHERE origin = ?", (ORIGIN,)).fetchone()
    finally:
        db.close()
    return 0 if row is None else int(row[0])


def test_bundles_verify_with_quorum_fail_without_it_and_pass_after_catch_up(
    platform: Platform, tmp_path: Path
) -> None:
    item = platform.record_item()
    out = platform.cli("anchor", "--once")
    assert "witnesses: checkpoint 1 published with 3 cosignature(s)" in out
    code, verdict = platform.verify(item, tmp_path / "1.json")
    assert code == 0 and cosigned(verdict) == ["p1", "p2", "p3"]
    note = (platform.data / "checkpoint").read_text()
    assert parse_note(note).signatures[0].name == ORIGIN  # the log's line first

    platform.witnesses[2].kill()  # one down: sealing goes on, quorum still met
    item = platform.record_item()
    out = platform.cli("anchor", "--once")
    assert "p3 at 1 (last: unreachable" in out and "quorum partners met by p1, p2" in out
    code, verdict = platform.verify(item, tmp_path / "2.json")
    assert code == 0 and cosigned(verdict) == ["p1", "p2"]

    platform.witnesses[1].kill()  # two down: the checkpoint goes out, new bundles fail
    item = platform.record_item()
    platform.cli("anchor", "--once")
    assert note_size((platform.data / "checkpoint").read_text()) == 3
    code, verdict = platform.verify(item, tmp_path / "3.json")
    assert code == 1 and verdict["step"] == "witness_quorum", verdict
    status = json.loads(platform.cli("status", "--json", check=False))
    assert status["checks"]["witnesses"]["healthy"] is False

    platform.witnesses[2].start()  # it holds size 1: caught up from there, nothing resent
    assert stored_size(platform.witnesses[2]) == 1
    platform.cli("anchor", "--once")  # nothing new to seal: the head goes to the witnesses
    code, verdict = platform.verify(item, tmp_path / "4.json")
    assert code == 0 and cosigned(verdict) == ["p1", "p3"]
    assert stored_size(platform.witnesses[2]) == 3
    status = json.loads(platform.cli("status", "--json", check=False))
    assert status["checks"]["witnesses"]["healthy"] is True


def test_a_fork_and_a_rollback_are_refused_by_every_witness_and_kept_as_evidence(
    platform: Platform,
) -> None:
    platform.record_item()
    platform.cli("anchor", "--once")
    platform.record_item()
    platform.cli("anchor", "--once")
    held = (platform.data / "checkpoint").read_text()
    assert note_size(held) == 2 and all(stored_size(w) == 2 for w in platform.witnesses)
    signer = read_signer_key(platform.data / "keys" / "platform.key")
    head = TreeHead.parse(parse_note(held).text)
    forked = sign_note(TreeHead(ORIGIN, 2, bytes(32 - 1) + b"\x01").body(), signer)
    older = sign_note(TreeHead(ORIGIN, 1, bytes(32)).body(), signer)
    assert head.root_hash != bytes(32 - 1) + b"\x01"

    endpoints = [WitnessEndpoint(w.name, w.url) for w in platform.witnesses]
    with WitnessClient(endpoints, timeout=10) as client:
        fork = client.add_checkpoint(forked, 2, lambda old, new: [])
        rollback = client.add_checkpoint(older, 1, lambda old, new: [])
    assert [(o.status, o.http_status) for o in fork.outcomes] == [("refused", 422)] * 3
    assert [o.status for o in rollback.outcomes] == ["ahead"] * 3
    assert not fork.lines and not rollback.lines
    for w in platform.witnesses:
        assert stored_size(w) == 2
        done = assay("witness", "evidence", "--state", str(w.home), "--json")
        kept = {e["kind"]: e for e in json.loads(done.stdout)}
        assert set(kept) == {"fork", "rollback"}
        assert kept["fork"]["offered_note"] == forked
        assert kept["rollback"]["offered_note"] == older
        assert TreeHead.parse(parse_note(kept["fork"]["held_note"]).text) == head


class Feeder(threading.Thread):
    """Records one item's story after another until stopped, as scanners would."""

    def __init__(self, platform: Platform) -> None:
        super().__init__(daemon=True)
        self.platform = platform
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.wait(0.02):
                self.platform.record_item()
        except BaseException as e:
            self.error = e


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_sigkill_a_witness_20_times_under_a_running_anchor(platform: Platform) -> None:
    settings = Settings(data_dir=platform.data, witness_policy=str(platform.policy),
                        block_max_seconds=0.05, witness_timeout=5.0)  # fmt: skip
    witnessing = runtime.checkpoint_witnessing(settings)
    assert witnessing is not None
    anchor = runtime.make_anchor(
        settings,
        runtime.open_ledger(settings),
        runtime.open_chain(settings),
        witnessing=witnessing,
    )
    witnessing.start()
    stop = threading.Event()
    sealing = threading.Thread(target=anchor.run, kwargs={"stop": stop}, daemon=True)
    feeder = Feeder(platform)
    sealing.start()
    feeder.start()
    victim = platform.witnesses[0]
    policy = load_policy(platform.policy)
    rng = random.Random(16)
    sizes: list[int] = []

    def cosigned_by_victim() -> int:
        return witnessing.snapshot().witnesses["p1"].cosignatures

    def victim_cosigns_twice_more() -> None:
        target = cosigned_by_victim() + 2
        wait_for(lambda: cosigned_by_victim() >= target, "the witness to cosign again")

    def seals_two_more_blocks() -> None:
        height = len(anchor.headers)
        wait_for(lambda: len(anchor.headers) > height + 1, "sealing with a witness down")

    try:
        for _ in range(20):
            victim_cosigns_twice_more()
            time.sleep(rng.uniform(0, 0.01))  # land anywhere inside a request
            acknowledged = witnessing.snapshot().witnesses["p1"].cosigned_size
            victim.kill()
            size = stored_size(victim)
            assert size >= acknowledged, f"cosigned {acknowledged}, only {size} on disk"
            assert not sizes or size >= sizes[-1], f"went back from {sizes[-1]} to {size}"
            sizes.append(size)
            seals_two_more_blocks()
            published = (platform.data / "checkpoint").read_text()
            assert evaluate(published, policy, time.time()).quorum_met
            victim.start()
        victim_cosigns_twice_more()
    finally:
        feeder.stop.set()
        feeder.join(timeout=30)
        stop.set()
        sealing.join(timeout=30)
        witnessing.flush(30)
        witnessing.stop()
    assert feeder.error is None, feeder.error
    assert sizes[-1] > sizes[0]
    final = (platform.data / "checkpoint").read_text()
    assert note_size(final) == len(anchor.headers)
    assert evaluate(final, policy, time.time()).quorum_met
    record = witnessing.snapshot().witnesses["p1"]
    assert record.failures.get("unreachable", 0) + record.failures.get("timeout", 0) >= 1
    assert stored_size(victim) >= record.cosigned_size


@pytest.mark.kafka
def test_assay_anchor_publishes_cosigned_checkpoints_to_the_topic(
    platform: Platform, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kafka import KafkaConsumer

    suffix = uuid.uuid4().hex[:10]
    topic = f"test-checkpoints-{suffix}"
    for name, value in {
        "ASSAY_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ASSAY_EVENTS_TOPIC": f"test-events-{suffix}",
        "ASSAY_REJECTED_TOPIC": f"test-rejected-{suffix}",
        "ASSAY_CHECKPOINTS_TOPIC": topic,
        "ASSAY_CONSUMER_GROUP": f"test-{suffix}",
    }.items():
        monkeypatch.setenv(name, value)
    platform.record_item()
    platform.witnesses[1].kill()
    out = platform.cli("anchor", "--until-idle", "0.5")
    assert "sealed 1 block(s)" in out, out
    consumer = KafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)  # fmt: skip
    try:
        notes = [record.value.decode() for record in consumer]
    finally:
        consumer.close()
    assert notes, "no checkpoint on the topic"
    policy = load_policy(platform.policy)
    for note in notes:  # each published once, cosigned by the two witnesses that are up
        signatures = parse_note(note).signatures
        assert signatures[0].name == ORIGIN
        assert evaluate(note, policy, time.time()).cosigned_by == ["p1", "p3"]
    assert notes[-1] == (platform.data / "checkpoint").read_text()
