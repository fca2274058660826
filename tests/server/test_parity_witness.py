"""The page's witness checks (verifier-witness.js) against the reference (witness/), in
headless Chromium: every cosignature/v1 vector and every policy vector of tests/witness/
vectors/ decides the same, and `assay verify --witness-policy` and the page agree on a
bundle whose checkpoint 2 of 3 partners cosigned (quorum met) or only 1 did (not met)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from assay import runtime
from assay.cli import main
from ledger.application import Report
from streams.envelope import seal
from tests.server.conftest import ROOT, STATIC, serving
from tests.server.pages import buyer, catalogue, open_everything, open_item, says, verdict
from tests.server.stores import ITEM, build_store
from tests.support import make_world, story_events
from witness.cosignature import WitnessSigner, WitnessVerifier, check_cosignature
from witness.errors import CosignatureError, PolicyError
from witness.note import merge_signatures, parse_note
from witness.policy import evaluate, parse_policy

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

VECTORS = ROOT / "tests" / "witness" / "vectors"
SIGNERS = [WitnessSigner.from_seed(f"w{i}.partner.example/w", bytes([i]) * 32) for i in (1, 2, 3)]
STRANGER = WitnessSigner.from_seed("stranger.example/w", bytes([9]) * 32)
EN = catalogue("en")


def _load(folder: str) -> list[tuple[str, dict[str, Any]]]:
    return [(p.stem, json.loads(p.read_text())) for p in sorted((VECTORS / folder).glob("*.json"))]


@pytest.fixture
def offline_page(page: Page) -> Page:
    page.goto((STATIC / "verifier.html").as_uri())
    page.wait_for_load_state("load")
    return page


_LINES = """async (cases) => {
  const out = [];
  for (const c of cases) {
    try {
      const ts = await AssayVerifierParts.checkCosignatureLine(c.vkey, c.body, c.line, c.now);
      out.push({timestamp: Number(ts)});
    } catch (e) {
      out.push({err: e.step || String(e)});
    }
  }
  return out;
}"""


def _python_line(vector: dict[str, Any]) -> dict[str, Any]:
    try:
        verifier = WitnessVerifier.from_text(vector["vkey"])
        return {
            "timestamp": check_cosignature(
                verifier, vector["body"], vector["line"], now=vector["now"]
            )
        }
    except CosignatureError as e:
        return {"err": e.step}


def test_the_page_decides_every_cosignature_vector_as_python(offline_page: Page) -> None:
    vectors = _load("cosignature")
    assert len(vectors) >= 10
    got = offline_page.evaluate(_LINES, [v for _, v in vectors])
    for (name, vector), page_says in zip(vectors, got, strict=True):
        want = {"err": vector["want_err"]} if "want_err" in vector else vector["want"]
        assert _python_line(vector) == want, name
        assert page_says == want, name


_POLICIES = """async (cases) => {
  const P = AssayVerifierParts;
  const out = [];
  for (const c of cases) {
    let policy;
    try {
      policy = await P.parsePolicy(c.policy);
    } catch (e) {
      out.push({err: e.step, line: e.line === undefined ? null : e.line});
      continue;
    }
    try {
      const v = await P.evaluatePolicy(c.note, policy, c.now);
      out.push({quorum_met: v.quorum_met, failure: v.quorum_met ? null : "witness_quorum",
                cosigned: v.cosigned.map((x) => x.name),
                refused: v.refused.map((r) => [r.witness, r.reason]),
                ignored_lines: v.ignored_lines});
    } catch (e) {
      out.push({failure: e.step || String(e)});
    }
  }
  return out;
}"""


def _python_policy(vector: dict[str, Any]) -> dict[str, Any]:
    try:
        policy = parse_policy(vector["policy"])
    except PolicyError as e:
        return {"err": e.step, "line": e.line}
    v = evaluate(vector["note"], policy, vector["now"])
    if v.failure in ("checkpoint_format", "log_signature"):
        return {"failure": v.failure}
    return {
        "quorum_met": v.quorum_met,
        "failure": v.failure,
        "cosigned": v.cosigned_by,
        "refused": [[r.witness, r.reason] for r in v.refused],
        "ignored_lines": v.ignored_lines,
    }


def test_the_page_decides_every_policy_vector_as_python(offline_page: Page) -> None:
    vectors = _load("policy")
    assert len(vectors) >= 25
    payload = [
        {"policy": v["policy"], "note": v.get("note", ""), "now": v.get("now", 0)}
        for _, v in vectors
    ]
    got = offline_page.evaluate(_POLICIES, payload)
    for (name, vector), page_says in zip(vectors, got, strict=True):
        python_says = _python_policy(vector)
        assert page_says == python_says, name
        if "want_err" in vector:
            assert python_says == {"err": vector["want_err"], "line": vector["line"]}, name
        else:
            assert python_says["failure"] == vector["want"]["failure"], name


@pytest.fixture(scope="module")
def proven(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, str]:
    """A genuine bundle, the platform key, and a 2-of-3 policy naming the log."""
    tmp = tmp_path_factory.mktemp("witnessed")
    data = tmp / "data"
    world = make_world(data)
    for event in story_events():
        (decision,) = world.ledger.process(
            [Report(event, seal(event, world.keys[event.party_id]))], None
        )
        assert decision.accepted
    assert main(["--data-dir", str(data), "keys", "init"]) == 0
    assert main(["--data-dir", str(data), "anchor", "--once"]) == 0
    out = tmp / "bundle.json"
    assert main(["--data-dir", str(data), "prove", "urn:item:1", "-o", str(out)]) == 0
    key = (data / "keys" / "platform.pub").read_text().strip()
    lines = [f"log {key}"]
    lines += [f"witness X{i} {s.verifier().to_text()}" for i, s in enumerate(SIGNERS, 1)]
    lines += ["group partners 2 X1 X2 X3", "quorum partners"]
    return json.loads(out.read_text()), key, "\n".join(lines) + "\n"


_BUNDLE = """async (c) => {
  const o = await AssayVerifier.verifyText(c.text, c.key, "", {witnessPolicy: c.policy});
  const w = (o.result && o.result.witnesses) || null;
  return {ok: o.ok, step: o.step, message: o.message, witnesses: w};
}"""


def _cosigned(bundle: dict[str, Any], signers: list[WitnessSigner]) -> dict[str, Any]:
    body = parse_note(bundle["checkpoint"]).text
    now = int(time.time())
    lines = [s.cosign(body, now - i) for i, s in enumerate(signers)]
    # A stranger's line is ignored; a repeated line counts once.
    lines += [STRANGER.cosign(body, now), *lines[:1]]
    return dict(bundle, checkpoint=merge_signatures(bundle["checkpoint"], lines))


def _python_verify(
    tmp_path: Path,
    bundle: dict[str, Any],
    key: str,
    policy: str,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, dict[str, Any]]:
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    (tmp_path / "key.pub").write_text(key + "\n")
    (tmp_path / "policy").write_text(policy)
    capsys.readouterr()
    code = main(
        [
            "verify",
            str(tmp_path / "b.json"),
            "--key",
            str(tmp_path / "key.pub"),
            "--witness-policy",
            str(tmp_path / "policy"),
            "--json",
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def test_two_of_three_cosigned_verifies_in_both(
    offline_page: Page,
    proven: tuple[dict[str, Any], str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bundle, key, policy = proven
    cosigned = _cosigned(bundle, [SIGNERS[0], SIGNERS[2]])
    code, python = _python_verify(tmp_path, cosigned, key, policy, capsys)
    page = offline_page.evaluate(
        _BUNDLE, {"text": json.dumps(cosigned), "key": key, "policy": policy}
    )
    assert code == 0 and python["witnesses"]["quorum_met"] is True, python
    assert page["ok"] is True, page
    w = page["witnesses"]
    assert w["quorum_met"] is True and w["total"] == 3 and w["required"] == 2
    assert w["cosigned"] == python["witnesses"]["cosigned"]
    assert [c["name"] for c in w["cosigned"]] == ["X1", "X3"]
    assert w["ignored_lines"] == 2  # the platform's own signature and the stranger's


def test_one_of_three_fails_the_quorum_in_both(
    offline_page: Page,
    proven: tuple[dict[str, Any], str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The CLI refuses (witness_quorum); the page keeps the verified history and carries the
    same verdict without quorum, which it shows as `unwitnessed` (docs/verifier.md)."""
    bundle, key, policy = proven
    cosigned = _cosigned(bundle, [SIGNERS[1]])
    code, python = _python_verify(tmp_path, cosigned, key, policy, capsys)
    page = offline_page.evaluate(
        _BUNDLE, {"text": json.dumps(cosigned), "key": key, "policy": policy}
    )
    assert code == 1 and python["step"] == "witness_quorum", python
    assert page["ok"] is True, page
    w = page["witnesses"]
    assert w["quorum_met"] is False and [c["name"] for c in w["cosigned"]] == ["X2"]
    assert (w["total"], w["required"]) == (3, 2)
    assert python["error"].endswith(w["message"]), (python["error"], w["message"])


def test_a_future_dated_partner_does_not_count_in_the_page(
    offline_page: Page, proven: tuple[dict[str, Any], str, str]
) -> None:
    bundle, key, policy = proven
    body = parse_note(bundle["checkpoint"]).text
    later = int(time.time()) + 3600
    lines = [SIGNERS[0].cosign(body, later), SIGNERS[1].cosign(body, later)]
    cosigned = dict(bundle, checkpoint=merge_signatures(bundle["checkpoint"], lines))
    page = offline_page.evaluate(
        _BUNDLE, {"text": json.dumps(cosigned), "key": key, "policy": policy}
    )
    w = page["witnesses"]
    assert w["quorum_met"] is False and w["cosigned"] == [], page
    assert sorted(r["reason"] for r in w["refused"]) == ["cosignature_future"] * 2


def test_the_served_page_uses_the_servers_policy_on_first_use_and_says_so(
    chromium: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end, no policy pinned in the page: the server's policy (``GET /witnesses``)
    is used, trusted on first use and labelled so; 2 of 3 partners cosigned the served
    checkpoint, so the page says "confirmed by 2 of 3"; the policy is remembered."""
    store = build_store(tmp_path / "assay-data", header_version=2)
    settings = store.settings
    signed = settings.checkpoint_path.read_text()
    body = parse_note(signed).text
    now = int(time.time())
    lines = [SIGNERS[0].cosign(body, now), SIGNERS[2].cosign(body, now), STRANGER.cosign(body, now)]
    settings.checkpoint_path.write_text(merge_signatures(signed, lines))
    key = runtime.platform_verifier_path(settings)
    policy = tmp_path / "policy"
    policy.write_text(
        f"log {key.read_text().strip()}\n"
        + "".join(f"witness X{i} {s.verifier().to_text()}\n" for i, s in enumerate(SIGNERS, 1))
        + "group partners 2 X1 X2 X3\nquorum partners\n"
    )
    monkeypatch.setenv("ASSAY_WITNESS_POLICY", str(policy))
    with (
        serving(settings.data_dir, tmp_path) as base,
        buyer(chromium, service_workers="block") as page,
    ):
        for visit in ("first", "remembered"):
            open_item(page, base, ITEM)
            v = verdict(page)
            assert v["state"] not in ("failed", "unwitnessed"), (visit, v)  # this item is flagged
            assert any(says("en", "line.witnessed", x, count=2, total=3, names="X1, X3")
                       for x in v["lines"]), v  # fmt: skip
            assert EN["line.witness_policy_tofu"] in v["lines"], v
            open_everything(page)
            assert EN["tech.policy_tofu"] in page.inner_text("#technical")
            kept = page.evaluate("JSON.parse(localStorage.getItem('assay.witnessPolicy'))")
            assert kept["text"] == policy.read_text(), visit
