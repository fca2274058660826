"""The anchor's witness settings, `assay status`'s witness check and ``GET /witnesses``:
healthy exactly when the newest checkpoint meets the policy's quorum."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from anchoring.checkpoint import Signer, sign_note
from assay import runtime
from assay.settings import Settings, SettingsError
from assay.status_witnesses import check_witnesses, witness_report
from witness.cosignature import WitnessSigner
from witness.note import TreeHead, merge_signatures
from witness.publishing import write_status
from witness.submitter import WitnessingStatus, WitnessRecord

ROOT = b"\x07" * 32


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def partners() -> dict[str, WitnessSigner]:
    return {n: WitnessSigner.generate(f"{n}.example/witness") for n in ("a", "b", "c")}


def write_policy(
    settings: Settings, log_vkey: str, signers: dict[str, WitnessSigner], urls: bool = True
) -> Path:
    lines = [f"log {log_vkey}"]
    for n, (name, signer) in enumerate(signers.items()):
        url = f" http://127.0.0.1:{9000 + n}" if urls else ""
        lines.append(f"witness {name} {signer.verifier().to_text()}{url}")
    lines += [f"group partners 2 {' '.join(signers)}", "quorum partners"]
    path = settings.data_dir / "policy"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def platform(settings: Settings) -> Signer:
    signer, _ = runtime.init_platform_key(settings)
    return signer


def cosigned(signer: Signer, size: int, by: list[WitnessSigner]) -> str:
    body = TreeHead(signer.name, size, ROOT).body()
    now = int(time.time())
    return merge_signatures(sign_note(body, signer), [w.cosign(body, now) for w in by])


def test_the_anchor_witnesses_only_with_a_usable_policy(settings: Settings) -> None:
    assert runtime.checkpoint_witnessing(settings) is None
    signers = partners()
    key = platform(settings).verifier_text()
    policy = write_policy(settings, key, signers)
    with_policy = settings.with_overrides(witness_policy=str(policy))
    witnessing = runtime.checkpoint_witnessing(with_policy)
    assert witnessing is not None
    assert {n: r.url for n, r in witnessing.status.witnesses.items()} == {
        "a": "http://127.0.0.1:9000", "b": "http://127.0.0.1:9001", "c": "http://127.0.0.1:9002",
    }  # fmt: skip
    witnessing.status.witnesses["a"].cosigned_size = 9
    witnessing.status.witnesses["a"].cosigned_at = 1234.5
    write_status(settings.witnessing_status_path, witnessing.snapshot())
    overridden = runtime.checkpoint_witnessing(
        with_policy.with_overrides(witness_urls="b=http://witness-b:8380")
    )
    assert (
        overridden is not None and overridden.status.witnesses["b"].url == "http://witness-b:8380"
    )
    seeded = overridden.status.witnesses  # a new run starts from what the last one saw
    assert (seeded["a"].cosigned_size, seeded["a"].cosigned_at, seeded["b"].cosigned_size) == (
        9, 1234.5, 0,
    )  # fmt: skip
    witnessing.stop()
    overridden.stop()

    with pytest.raises(SettingsError, match="'witness_urls': 'z=http://x' is not NAME=URL"):
        runtime.checkpoint_witnessing(with_policy.with_overrides(witness_urls="z=http://x"))
    no_urls = write_policy(settings, key, signers, urls=False)
    with pytest.raises(SettingsError, match="gives no witness a URL"):
        runtime.checkpoint_witnessing(settings.with_overrides(witness_policy=str(no_urls)))
    other_log = write_policy(settings, Signer.generate(settings.checkpoint_origin).verifier_text(),
                             signers)  # fmt: skip
    with pytest.raises(SettingsError, match="does not list this platform's key"):
        runtime.checkpoint_witnessing(settings.with_overrides(witness_policy=str(other_log)))
    with pytest.raises(SettingsError, match="needs 'block_header_version' 2"):
        runtime.checkpoint_witnessing(with_policy.with_overrides(block_header_version=1))
    (settings.data_dir / "policy").write_text("quorum nobody\n")
    with pytest.raises(SettingsError, match="setting 'witness_policy'"):
        runtime.checkpoint_witnessing(with_policy)


def test_status_is_healthy_exactly_when_the_newest_checkpoint_meets_the_quorum(
    settings: Settings,
) -> None:
    signers = partners()
    log = platform(settings)
    policy = write_policy(settings, log.verifier_text(), signers)
    configured = settings.with_overrides(witness_policy=str(policy))
    assert check_witnesses(settings) is None  # no policy: no check
    nothing = check_witnesses(configured)
    assert nothing is not None and nothing.healthy is None  # no checkpoint yet

    settings.checkpoint_path.write_text(cosigned(log, 7, [signers["a"], signers["c"]]))
    record = WitnessRecord("http://a", cosigned_size=7, cosigned_at=time.time() - 3)
    down = WitnessRecord("http://b", cosigned_size=4, cosigned_at=time.time() - 600,
                         last_status="unreachable")  # fmt: skip
    write_status(configured.witnessing_status_path,
                 WitnessingStatus({"a": record, "b": down}, published_size=7))  # fmt: skip
    check = check_witnesses(configured)
    assert check is not None and check.healthy is True
    assert check.details["cosigned_by"] == ["a", "c"]
    assert check.details["witnesses"]["b"]["cosigned_size"] == 4
    assert check.details["witnesses"]["b"]["last_status"] == "unreachable"
    assert "checkpoint 7: quorum partners met" in check.summary
    assert "b at 4 (10 min ago) last: unreachable" in check.summary

    settings.checkpoint_path.write_text(cosigned(log, 8, [signers["a"]]))
    check = check_witnesses(configured)
    assert check is not None and check.healthy is False
    assert check.details["failure"] == "witness_quorum"
    report = witness_report(configured)
    assert report["quorum"]["met"] is False and report["quorum"]["cosigned_by"] == ["a"]
    assert report["checkpoint_size"] == 7  # as the anchor last recorded
    assert report["witnesses"]["a"] == {
        "cosigned_size": 7, "cosigned_at": record.cosigned_at, "last_status": "",
    }  # fmt: skip
    assert "url" not in report["witnesses"]["b"]  # internal addresses are not served

    unconfigured = witness_report(settings)
    assert unconfigured["quorum"] is None and set(unconfigured["witnesses"]) == {"a", "b"}
