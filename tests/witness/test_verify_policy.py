"""``assay verify --witness-policy``: a bundle's checkpoint must carry the cosignatures its
policy asks for (C2SP tlog-policy, k of n); unknown lines are ignored, a witness counts
once, a future-dated or forged cosignature is refused and does not count."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from assay.cli import main
from ledger.application import Report
from streams.envelope import seal
from tests.support import make_world, story_events
from witness.cosignature import WitnessSigner
from witness.note import merge_signatures, parse_note
from witness.policy import evaluate, load_policy

SIGNERS = [
    WitnessSigner.from_seed(f"w{i}.partner.example/witness", bytes([i]) * 32) for i in (1, 2, 3)
]
Setup = tuple[Path, dict[str, object], str]
STRANGER = WitnessSigner.from_seed("stranger.example/witness", bytes([9]) * 32)


@pytest.fixture
def setup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, dict[str, object], str]:
    data = tmp_path / "data"
    world = make_world(data)
    for event in story_events():
        report = Report(event, seal(event, world.keys[event.party_id]))
        (decision,) = world.ledger.process([report], None)
        assert decision.accepted
    assert main(["--data-dir", str(data), "keys", "init"]) == 0
    assert main(["--data-dir", str(data), "anchor", "--once"]) == 0
    bundle_file = tmp_path / "bundle.json"
    assert main(["--data-dir", str(data), "prove", "urn:item:1", "-o", str(bundle_file)]) == 0
    capsys.readouterr()
    key = data / "keys" / "platform.pub"
    policy = tmp_path / "policy"
    lines = [f"log {key.read_text().strip()}"]
    lines += [f"witness X{i} {s.verifier().to_text()}" for i, s in enumerate(SIGNERS, 1)]
    lines += ["group partners 2 X1 X2 X3", "quorum partners"]
    policy.write_text("\n".join(lines) + "\n")
    return bundle_file, json.loads(bundle_file.read_text()), str(key)


def verify_with(
    setup: Setup,
    lines: list[str],
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, dict[str, object]]:
    bundle_file, bundle, key = setup
    cosigned = dict(bundle, checkpoint=merge_signatures(str(bundle["checkpoint"]), lines))
    bundle_file.write_text(json.dumps(cosigned))
    policy = bundle_file.parent / "policy"
    code = main(
        ["verify", str(bundle_file), "--key", key, "--witness-policy", str(policy), "--json"]
    )
    return code, json.loads(capsys.readouterr().out)


def body(setup: Setup) -> str:
    return parse_note(str(setup[1]["checkpoint"])).text


def test_two_of_three_partners_meet_the_quorum(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    now = int(time.time())
    lines = [SIGNERS[0].cosign(body(setup), now), SIGNERS[2].cosign(body(setup), now - 5)]
    code, out = verify_with(setup, [*lines, STRANGER.cosign(body(setup), now)], capsys)
    assert code == 0, out
    assert out["verified"] is True and out["events"] == 7
    assert out["witnesses"] == {
        "quorum_met": True,
        "total": 3,
        "cosigned": [{"name": "X1", "time": now}, {"name": "X3", "time": now - 5}],
        "refused": [],
    }


def test_one_partner_is_not_a_quorum_however_many_lines_it_has(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    now = int(time.time())
    # merge keeps one line per key: a second line by X1 replaces nothing new; a stranger
    # (not in the policy) is ignored
    lines = [SIGNERS[0].cosign(body(setup), now), STRANGER.cosign(body(setup), now)]
    code, out = verify_with(setup, lines, capsys)
    assert (code, out["verified"], out["step"]) == (1, False, "witness_quorum")
    assert "cosigned by 1 of 3 witnesses (X1)" in str(out["error"])


def test_a_future_dated_or_forged_cosignature_does_not_count(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    now = int(time.time())
    future = SIGNERS[1].cosign(body(setup), now + 3600)
    forged = SIGNERS[2].cosign(body(setup) + "x", now)  # X3's key, over other text
    code, out = verify_with(setup, [SIGNERS[0].cosign(body(setup), now), future, forged], capsys)
    assert (code, out["step"]) == (1, "witness_quorum")
    assert "cosigned by 1 of 3 witnesses (X1)" in str(out["error"])
    evaluated = evaluate(str(json.loads(setup[0].read_text())["checkpoint"]), load_policy(
        setup[0].parent / "policy"), time.time())  # fmt: skip
    assert sorted((r.witness, r.reason) for r in evaluated.refused) == [
        ("X2", "cosignature_future"),
        ("X3", "cosignature_signature"),
    ]

    bundle_file, _, key = setup
    policy = str(bundle_file.parent / "policy")
    assert main(["verify", str(bundle_file), "--key", key, "--witness-policy", policy]) == 1
    assert capsys.readouterr().out.startswith("NOT VERIFIED: witness_quorum: quorum")


def test_a_policy_that_cannot_be_read_is_a_clear_error(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle_file, _, key = setup
    bad = bundle_file.parent / "bad-policy"
    bad.write_text("quorum nobody\n")
    assert main(["verify", str(bundle_file), "--key", key, "--witness-policy", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "witness policy" in err and "Traceback" not in err
