"""``assay owner serve`` as a real process on loopback, with ``assay owner`` commands: a
buyer claims with the receipt's code, transfers to a second owner who claims with the new
code; the endpoint answers bad input with JSON errors, refuses at once (409, nothing
published) what the ledger's rules refuse as it stands — a mistyped code, a non-owner —
and a statement that was right when published but stale when ingested is refused by the
ingest with its code."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from assay.cli import main
from domain.privacy import new_claim_code
from ledger.disclosures import DisclosureStore
from streams.envelope import open_envelope
from streams.owner_envelope import new_statement, seal_statement, wrap
from streams.owner_keys import OwnerKey
from streams.producer import Producer
from streams.scanner import Scanner
from tests.server.conftest import _free_port, _wait_ready
from tests.streams.test_ingest import Topics, dead_letters, ingest_once
from tests.support import World, make_world, story_events

pytestmark = pytest.mark.kafka

ITEM = "urn:item:bag-1"
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def owner_serving(env: dict[str, str], log_dir: Path) -> Iterator[str]:
    port = _free_port()
    log = log_dir / f"owner-{port}.log"
    command = [sys.executable, "-m", "assay", "owner", "serve", "--port", str(port),
               "--log-level", "warning"]  # fmt: skip
    env = {**env, "PYTHONPATH": str(ROOT)}
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=log_dir, stdout=out, stderr=subprocess.STDOUT,
                                   env=env)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process, log)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def sold(world: World, bootstrap: str, topics: Topics, data_dir: Path) -> str:
    code = new_claim_code()
    disclosures = DisclosureStore(data_dir / "disclosures.sqlite")
    with Producer(bootstrap) as producer:
        scanners = {
            p: Scanner(k, producer, topic=topics.events, location=f"loc-{p}")
            for p, k in world.keys.items()
        }
        for event in story_events(ITEM)[:-1]:
            scanners[event.party_id].publish(event)
        scanners["ginza"].sell_privately(
            ITEM, buyer_ref="buyer-1", disclosures=disclosures, claim_code=code
        )
    disclosures.close()
    assert ingest_once(world, bootstrap, topics).stats.accepted == 7
    return code


def call(base: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(base + path, data=body, method="POST" if body else "GET",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_owners_claim_and_transfer_through_the_endpoint(
    kafka_bootstrap: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "assay-data"
    world = make_world(data_dir)
    topics = Topics(kafka_bootstrap, partitions=1)
    code = sold(world, kafka_bootstrap, topics, data_dir)
    env = {**os.environ, **topics.env(kafka_bootstrap, data_dir)}
    alice_file, bob_file, eve_file = (tmp_path / f"{n}.key" for n in ("alice", "bob", "eve"))
    with owner_serving(env, tmp_path) as base:
        for path in (alice_file, bob_file, eve_file):
            assert main(["owner", "keygen", "--out", str(path)]) == 0
            assert path.stat().st_mode & 0o777 == 0o600
        alice, bob = OwnerKey.load(alice_file), OwnerKey.load(bob_file)
        eve_key = OwnerKey.load(eve_file)
        capsys.readouterr()

        def owner(*args: str) -> str:
            assert main(["owner", *args, "--endpoint", base]) == 0
            return capsys.readouterr().out

        def refused(*args: str) -> str:
            assert main(["owner", *args, "--endpoint", base]) == 2
            return capsys.readouterr().err

        # A mistyped code is refused at once, with the rule's code; nothing is published.
        wrong = refused("claim", ITEM, "--code", new_claim_code(), "--key", str(alice_file))
        assert "the owner endpoint refused: wrong_claim_code" in wrong, wrong
        assert "published" in owner("claim", ITEM, "--code", code, "--key", str(alice_file))
        assert ingest_once(world, kafka_bootstrap, topics).stats.accepted == 1
        status, view = call(base, f"/owner/items/{ITEM}")
        assert status == 200
        assert (view["owner"], view["owner_key"], view["version"]) == (
            alice.fingerprint,
            alice.public_key_hex,
            8,
        )
        assert "buyer" not in json.dumps(view)  # fingerprints, never names

        # Eve is not the owner: refused at once (409 not_owner), nothing published.
        assert "not_owner" in refused("report-stolen", ITEM, "--key", str(eve_file))
        # Two transfers signed after the same version: the endpoint cannot know the first
        # will make the second stale, so both are published; the ingest refuses the second.
        out = owner("transfer", ITEM, "--key", str(alice_file))
        next_code = out.rsplit(": ", 1)[1].strip()
        owner("transfer", ITEM, "--key", str(alice_file))
        stats = ingest_once(world, kafka_bootstrap, topics).stats
        assert (stats.accepted, stats.rejected) == (1, 1)
        assert "claim_code_reused" in refused("claim", ITEM, "--code", code, "--key", str(bob_file))
        owner("claim", ITEM, "--code", next_code, "--key", str(bob_file))
        ingest_once(world, kafka_bootstrap, topics)
        assert json.loads(owner("status", ITEM))["owner"] == bob.fingerprint

        # Bad input: JSON errors with codes, nothing published.
        forged_statement = new_statement(alice, "withdraw_report", ITEM, 10)
        honest = open_envelope(seal_statement(forged_statement, alice))
        forged = wrap(alice.public_key_hex, honest.body, eve_key.sign(honest.body))
        for payload, want in (
            (b"not json", (400, "bad_request")),
            (b'{"envelope_b64": 7}', (400, "bad_request")),
            (b'{"envelope_b64": "%%%"}', (400, "bad_request")),
            (json.dumps({"envelope_b64": base64.b64encode(forged).decode()}).encode(),
             (422, "bad_signature")),
            (b"x" * 200_000, (413, "too_large")),
        ):  # fmt: skip
            status, error = call(base, "/owner/statements", payload)
            assert (status, error["error"]) == want, error
            assert set(error) == {"error", "message"}
        status, error = call(base, "/owner/items/urn:item:nowhere")
        assert (status, error["error"]) == (404, "not_found")
    (letter,) = dead_letters(kafka_bootstrap, topics.rejected, 1)
    assert letter.code == "stale_statement"
