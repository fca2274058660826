"""The page's verifier and `assay verify` agree: same verdict, same failing step and event.

Three sources of bundles, all verified by both sides:
- the anchoring test vectors (tests/anchoring/vectors/bundles/*.json), when present;
- a real 10-event bundle from the pipeline and ~50 tamperings of it, one per check;
- forged bundles whose odd payloads are correctly anchored (tests/server/forge.py), to
  reach the content checks, plus a seeded fuzz of signed Avro bodies for the decoder.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from anchoring import strictjson
from anchoring.checkpoint import Signer
from domain.custody import Kind
from domain.kinds import javascript
from streams import ed25519
from streams.avro import default_registry
from streams.keys import DeviceKey
from tests.anchoring.hostile_bundles import json_fuzz_texts, vector_input
from tests.server import forge
from tests.server.conftest import ROOT, STATIC
from tests.server.pages import catalogue
from tests.server.parity import Case, page_outcomes, python_outcome
from tests.server.stores import GINZA, Store, event
from tests.streams import edwards
from tests.support import make_world

if TYPE_CHECKING:
    from playwright.sync_api import Page

VECTORS = ROOT / "tests" / "anchoring" / "vectors" / "bundles"

Bundle = dict[str, Any]


def _flip_hex(text: str, at: int = 5) -> str:
    return text[:at] + ("0" if text[at] != "0" else "1") + text[at + 1 :]


def _payload(bundle: Bundle, index: int) -> bytes:
    return base64.b64decode(bundle["events"][index]["payload_b64"])


def _set_payload(bundle: Bundle, index: int, raw: bytes) -> None:
    bundle["events"][index]["payload_b64"] = base64.b64encode(raw).decode()


def _tamper_payload(b: Bundle) -> None:
    raw = bytearray(_payload(b, 3))
    raw[-70] ^= 1
    _set_payload(b, 3, bytes(raw))


def _other_platform_key() -> str:
    return Signer.from_seed("assay.example/custody-log", bytes(32)).verifier_text()


MUTATIONS: dict[str, Callable[[Bundle], Any]] = {
    "untouched": lambda b: None,
    "format": lambda b: b.update(format="assay-proof"),
    "version 2": lambda b: b.update(version=2),
    "version 1.0": lambda b: b.update(version=1.0),
    "version true": lambda b: b.update(version=True),
    "no devices": lambda b: b.pop("devices"),
    "item_id empty": lambda b: b.update(item_id=""),
    "item_id a number": lambda b: b.update(item_id=7),
    "no events": lambda b: b.update(events=[]),
    "pending not a list": lambda b: b.update(pending={}),
    "checkpoint size edited": lambda b: b.update(
        checkpoint=re.sub(r"\n4\n", "\n5\n", b["checkpoint"], count=1)
    ),
    "checkpoint no blank line": lambda b: b.update(
        checkpoint=b["checkpoint"].replace("\n\n", "\n")
    ),
    "checkpoint signature edited": lambda b: b.update(
        checkpoint=b["checkpoint"][:-10]
        + ("A" if b["checkpoint"][-10] != "A" else "B")
        + b["checkpoint"][-9:]
    ),
    "head sealed_at edited": lambda b: b["head"].update(sealed_at="2030-01-01T00:00:00.000000Z"),
    "head extra field": lambda b: b["head"].update(note="x"),
    "head height 3.0": lambda b: b["head"].update(height=3.0),
    "head bad date": lambda b: b["head"].update(sealed_at="2026-02-30T00:00:00.000000Z"),
    "head acc_size wrong": lambda b: b["head"].update(acc_size=2),
    "head not an object": lambda b: b.update(head=[1]),
    "blocks out of order": lambda b: b["blocks"].reverse(),
    "block acc_proof edited": lambda b: b["blocks"][0]["acc_proof"].__setitem__(
        0, _flip_hex(b["blocks"][0]["acc_proof"][0])
    ),
    "block acc_proof too long": lambda b: b["blocks"][0]["acc_proof"].append("00" * 32),
    "block acc_proof too short": lambda b: b["blocks"][0]["acc_proof"].pop(),
    "block acc_proof upper case": lambda b: b["blocks"][0]["acc_proof"].__setitem__(
        0, b["blocks"][0]["acc_proof"][0].upper()
    ),
    "block missing": lambda b: b["blocks"].pop(0),
    "block header edited": lambda b: b["blocks"][1]["header"].update(last_notification=10**6),
    "block newer than head": lambda b: b["blocks"][2]["header"].update(height=9, acc_size=9),
    "head block with a proof": lambda b: b["blocks"].append(
        {"header": dict(b["head"]), "acc_proof": ["00" * 32]}
    ),
    "version gap": lambda b: b["events"].pop(1),
    "version edited": lambda b: b["events"][2].update(version=4),
    "leaf kind X": lambda b: b["events"][0].update(leaf_kind="X"),
    "envelope with evidence": lambda b: b["events"][0].update(evidence_b64=""),
    "event field missing": lambda b: b["events"][4].pop("path"),
    "event height 0.0": lambda b: b["events"][0].update(height=0.0),
    "prev_leaf edited": lambda b: b["events"][3].update(
        prev_leaf=_flip_hex(b["events"][3]["prev_leaf"])
    ),
    "payload byte flipped": _tamper_payload,
    "payload not canonical base64": lambda b: b["events"][3].update(
        payload_b64=b["events"][3]["payload_b64"] + "="
        if b["events"][3]["payload_b64"].endswith("=")
        else b["events"][3]["payload_b64"] + "===="
    ),
    "payload not base64": lambda b: b["events"][3].update(payload_b64="**"),
    "leaf edited": lambda b: b["events"][3].update(leaf=_flip_hex(b["events"][3]["leaf"])),
    "leaf_index + 1": lambda b: b["events"][3].update(leaf_index=b["events"][3]["leaf_index"] + 1),
    "leaf_index out of range": lambda b: b["events"][3].update(leaf_index=10**6),
    "path sibling edited": lambda b: b["events"][5]["path"].__setitem__(
        0, {k: _flip_hex(v) for k, v in b["events"][5]["path"][0].items()}
    ),
    "path entry two keys": lambda b: b["events"][5]["path"][0].update(extra="00" * 32),
    "path truncated": lambda b: b["events"][5]["path"].pop(),
    "summary location edited": lambda b: b["events"][6]["summary"].update(location="elsewhere"),
    "summary attribute dropped": lambda b: b["events"][6]["summary"]["attributes"].pop("shelf"),
    "summary latitude as int-valued": lambda b: b["events"][6]["summary"].update(
        latitude=float(b["events"][6]["summary"]["latitude"])
    ),
    "summary of flag edited": lambda b: b["events"][8]["summary"].update(detail="nothing"),
    "summary evidence edited": lambda b: b["events"][8]["summary"]["evidence"].update(party_id="x"),
    "device missing": lambda b: b["devices"].pop("ginza/ginza-d1"),
    "device key upper case": lambda b: b["devices"]["lab/lab-d1"].update(
        public_key=b["devices"]["lab/lab-d1"]["public_key"].upper()
    ),
    "device key swapped": lambda b: b["devices"]["lab/lab-d1"].update(
        public_key=b["devices"]["dc/dc-d1"]["public_key"]
    ),
    "evidence dropped": lambda b: b["events"][8].update(evidence_b64=None),
    "evidence replaced": lambda b: b["events"][8].update(
        evidence_b64=b["events"][3]["payload_b64"]
    ),
    "pending wrong version": lambda b: b["pending"].append({"version": 12, "summary": {}}),
    "pending next version": lambda b: b["pending"].append({"version": 11, "summary": {"x": 1}}),
}


def real_cases(store: Store) -> list[Case]:
    bundle, key = store.bundle(), store.key_text
    cases = []
    for name, mutate in MUTATIONS.items():
        b = copy.deepcopy(bundle)
        mutate(b)
        cases.append(Case.of(name, b, key))
    ginza = bundle["devices"]["ginza/ginza-d1"]["public_key"]
    lab = bundle["devices"]["lab/lab-d1"]["public_key"]
    cases += [
        Case.of("other platform key", bundle, _other_platform_key()),
        Case.of("origin as expected", bundle, key, origin="assay.example/custody-log"),
        Case.of("origin unexpected", bundle, key, origin="elsewhere.example/log"),
        Case.of("device key pinned", bundle, key, device_keys={"ginza/ginza-d1": ginza}),
        Case.of("device key pinned wrong", bundle, key, device_keys={"ginza/ginza-d1": lab}),
        Case("not JSON object", "[1, 2]", key),
        Case(
            "float literal kept",
            json.dumps(bundle).replace('"version": 1,', '"version": 1e0,', 1),
            key,
        ),
    ]
    return cases


def forged_cases(tmp: Path) -> list[Case]:
    keys = make_world(tmp).keys
    item = "urn:item:forged"
    E, P, F = "E", "P", forge.Forged

    def seal_as(body: bytes, party: str = "ginza", **kw: Any) -> bytes:
        return forge.envelope(body, keys[party], **kw)

    def body_of(n: int = 1, party: str = "ginza", item_id: str = item, **kw: Any) -> bytes:
        return forge.body_bytes(event(n, "observing", party, item_id, **kw))

    def flag(evidence_id: str | None, evidence: bytes | None, signal: str = "x") -> bytes:
        return forge.flag_record(signal, "y", evidence_id, evidence)

    body = body_of()
    good = seal_as(body)
    evidence = seal_as(body_of(2, "osaka"), "osaka")
    # Flip the signature's last bit: setting the byte to 0 left it unchanged 1 time in 256.
    unsigned = evidence[:-1] + bytes([evidence[-1] ^ 0x01])
    v1_body = forge.body_bytes(event(1, "observing", "ginza", item), schema_version=1)

    def padded(groups: int) -> bytes:  # the first length varint with redundant groups
        return body[:10] + bytes([body[10] | 0x80]) + b"\x80" * (groups - 2) + b"\x00" + body[11:]

    after_sale = forge.flag_record("scan_after_sale", "seen", f"{item}#e2", evidence)
    # custody_event v3: an error declaration, its corrective ids an Avro array.
    declared = forge.body_bytes(
        event(2, "error_declaration", "ginza", item, declared_event_id=f"{item}#e1",
              error_reason="incorrect_data", corrective_event_ids=["x1", "x2"])
    )  # fmt: skip
    assert declared.endswith(b"\x04\x04x1\x04x2\x00")  # count 2, "x1", "x2", end
    blocks = declared[:-8] + b"\x02\x04x1\x02\x04x2\x00"  # two blocks of one
    sized = declared[:-8] + b"\x01\x06\x04x1\x01\x06\x04x2\x00"  # counts -1, with sizes
    declaration = seal_as(declared)
    attributes = {"z": "1", "é": "2", "a": "", "ß": "3", "\U0001f600": "4"}
    extra_key = (
        b'{"detail":"y","evidence_event_id":null,"evidence_sha256":null,'
        b'"extra":1,"signal":"x","type":"flag"}'
    )
    table: list[tuple[str, list[forge.Forged], str | None]] = [
        ("plain", [F(E, good)], None),
        ("v1 body", [F(E, seal_as(v1_body))], None),
        ("position and attributes", [F(E, seal_as(body_of(attributes=attributes, **GINZA)))], None),
        ("garbage envelope", [F(E, b"\x00garbage")], "envelope_format"),
        ("a body, not an envelope", [F(E, body)], "envelope_format"),
        ("unknown fingerprint", [F(E, good[:2] + bytes(8) + good[10:])], "envelope_format"),
        ("trailing byte", [F(E, good + b"\x00")], "envelope_format"),
        ("body varint of 3 bytes", [F(E, seal_as(padded(3)))], "envelope_format"),
        ("body varint of 10 bytes", [F(E, seal_as(padded(10)))], "envelope_format"),
        ("body varint of 13 bytes", [F(E, seal_as(padded(13)))], "envelope_format"),
        ("non-minimal length", [F(E, good[:10] + b"\x8a\x00" + good[11:])], "envelope_format"),
        ("short signature", [F(E, seal_as(body, signature=b"x" * 63))], "envelope_format"),
        ("signed by another device", [F(E, seal_as(body, "osaka", party_id="ginza",
                                                   device_id="ginza-d1"))], "device_signature"),
        ("unknown device", [F(E, seal_as(body, device_id="ginza-d9"))], "device_key"),
        ("outer label differs", [F(E, seal_as(body_of(party="osaka")))], "envelope_device"),
        ("unreadable body, signed", [F(E, seal_as(body[:-3]))], "envelope_format"),
        ("body with trailing bytes, signed", [F(E, seal_as(body + b"\x02"))], "envelope_format"),
        ("envelope as body", [F(E, seal_as(good))], "envelope_format"),
        ("another item", [F(E, seal_as(body_of(item_id="urn:item:else")))], "item_mismatch"),
        ("flag with evidence", [F(E, good), F(P, after_sale, evidence)], None),
        ("flag without evidence", [F(P, flag(None, None, "unknown_item"))], None),
        ("flag not JSON", [F(P, b"{not json")], "platform_body"),
        ("flag not UTF-8", [F(P, b'{"a":"\xff"}')], "platform_body"),
        ("flag with BOM", [F(P, b"\xef\xbb\xbf" + flag(None, None))], "platform_body"),
        ("flag not canonical", [F(P, flag(None, None).replace(b",", b", "))], "platform_body"),
        ("flag with extra key", [F(P, extra_key)], "platform_body"),
        ("flag escapes", [F(P, forge.flag_record("x", 'q"\\\n\t\x01é\u2028', None, None))], None),
        ("flag evidence hash", [F(P, after_sale, seal_as(body_of(3, "osaka"), "osaka"))],
         "evidence_hash"),
        ("flag evidence missing", [F(P, after_sale)], "bundle_format"),
        ("flag evidence unexpected", [F(P, flag(None, None), evidence)], "bundle_format"),
        ("flag evidence other event", [F(P, flag("other", evidence), evidence)],
         "evidence_mismatch"),
        ("flag evidence unsigned", [F(P, flag(f"{item}#e2", unsigned), unsigned)],
         "device_signature"),
        ("summary edited", [F(E, good, summary={"kind": "observing"})], "summary_mismatch"),
        ("v3 declaration", [F(E, good), F(E, declaration)], None),
        # An array in several blocks, or with block sizes, is not the canonical encoding.
        ("v3 array in blocks", [F(E, good), F(E, seal_as(blocks))], "envelope_format"),
        ("v3 array blocks with sizes", [F(E, good), F(E, seal_as(sized))], "envelope_format"),
        ("v3 array cut short", [F(E, seal_as(declared[:-1]))], "envelope_format"),
        ("v3 array item not UTF-8", [F(E, seal_as(declared[:-3] + b"\xff2\x00"))],
         "envelope_format"),
        ("v3 corrective ids edited", [F(E, good), F(E, declaration, summary={
            **forge.summary_of(F(E, declaration)), "corrective_event_ids": ["x2", "x1"]})],
         "summary_mismatch"),
        ("v3 empty ids shown", [F(E, good, summary={
            **forge.summary_of(F(E, good)), "corrective_event_ids": []})], "summary_mismatch"),
    ]  # fmt: skip
    platform = forge.SIGNER.verifier_text()
    devices = list(keys.values())
    cases = [
        Case.of(name, forge.forge(item, events, devices), platform, want=want)
        for name, events, want in table
    ]
    fuzzed = _fuzz_cases(body, keys["ginza"], item, platform)
    return cases + fuzzed + _fuzz_cases(declared, keys["ginza"], item, platform, "v3 ")


def _fuzz_cases(
    body: bytes, key: DeviceKey, item: str, platform: str, label: str = ""
) -> list[Case]:
    """Signed bodies with random bytes changed: both decoders must read them alike."""
    rng = random.Random(20261127)
    cases = []
    for n in range(60):
        raw = bytearray(body)
        for _ in range(rng.choice((1, 1, 2, 3))):
            at = rng.randrange(10, len(raw))
            raw[at] = rng.choice((0, 1, 2, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        if n % 7 == 0:
            raw = raw[: rng.randrange(10, len(raw))]
        signed = forge.envelope(bytes(raw), key)
        bundle = forge.forge(item, [forge.Forged("E", signed)], [key])
        cases.append(Case.of(f"{label}fuzz #{n}", bundle, platform))
    return cases


def vector_cases() -> list[Case]:
    cases = []
    for path in sorted(VECTORS.glob("*.json")):
        vector = json.loads(path.read_text())
        devices = vector.get("device_keys") or None
        cases.append(
            Case(
                f"vector {path.name}",
                vector_input(vector),  # the exact bytes, to both verifiers
                vector["platform_key"],
                devices,
                vector.get("origin"),
                vector.get("want_err"),
            )
        )
    return cases


BODY_VECTORS = ROOT / "tests" / "streams" / "vectors" / "custody_event"


def body_vector_cases() -> list[Case]:
    """Each custody_event body vector signed and anchored in a forged bundle whose summary
    is the vector's: both verifiers must accept it, or fail with the vector's step."""
    key = DeviceKey.generate("dc", "dc-g1")  # the device the vectors' bodies name
    cases = []
    for path in sorted(BODY_VECTORS.glob("*.json")):
        vector = json.loads(path.read_text())
        signed = forge.envelope(bytes.fromhex(vector["body_hex"]), key)
        summary = vector["want_summary"] or {}
        bundle = forge.forge(
            "urn:epc:id:sgtin:0614141.107346.2018", [forge.Forged("E", signed, None, summary)],
            [key],
        )  # fmt: skip
        cases.append(Case.of(f"body {path.stem}", bundle, forge.SIGNER.verifier_text(),
                             want=vector["want_err"]))  # fmt: skip
    return cases


def _compare(page: Page, cases: list[Case]) -> None:
    outcomes = page_outcomes(page, cases)
    rows, differ = [], []
    for case, (js, message, _) in zip(cases, outcomes, strict=True):
        py = python_outcome(case)
        rows.append(f"{case.name:40} python: {py!s:28} page: {js!s:28} {message[:60]}")
        if js != py or (case.want is not None and py.step != case.want):
            differ.append(rows[-1] + (f"  (want {case.want})" if case.want else ""))
    print("\n".join(rows))
    assert not differ, "the page and the Python verifier disagree:\n" + "\n".join(differ)


@pytest.fixture
def offline_page(page: Page) -> Page:
    page.goto((STATIC / "verifier.html").as_uri())  # file://, no server at all
    page.wait_for_load_state("load")  # deferred scripts have run
    return page


def test_real_bundle_and_its_tamperings(offline_page: Page, store: Store) -> None:
    _compare(offline_page, real_cases(store))


def test_forged_bundles_and_fuzzed_bodies(offline_page: Page, tmp_path: Path) -> None:
    _compare(offline_page, forged_cases(tmp_path))


def test_custody_event_body_vectors(offline_page: Page) -> None:
    cases = body_vector_cases()
    assert len(cases) >= 10, f"no body vectors in {BODY_VECTORS.relative_to(ROOT)}"
    assert [python_outcome(c).step for c in cases] == [c.want for c in cases]
    _compare(offline_page, cases)


def test_anchoring_vectors(offline_page: Page) -> None:
    cases = vector_cases()
    # The vectors are committed; none found is a missing piece, never a reason to skip.
    assert cases, f"no bundle vectors in {VECTORS.relative_to(ROOT)}"
    _compare(offline_page, cases)


def test_a_timestamp_no_date_can_hold(offline_page: Page, tmp_path: Path) -> None:
    """A signed body with occurred_at beyond year 9999 cannot be read: envelope_format."""
    keys = make_world(tmp_path).keys
    body = forge.body_with_micros(event(1, "observing", "ginza", "urn:item:t"), 2**62)
    bundle = forge.forge("urn:item:t", [forge.Forged("E", forge.envelope(body, keys["ginza"]))],
                         list(keys.values()))  # fmt: skip
    case = Case.of("far future", bundle, forge.SIGNER.verifier_text())
    ((page, _, _),) = page_outcomes(offline_page, [case])
    assert (page.step, page.version) == ("envelope_format", 1)
    assert python_outcome(case) == page


_ED25519 = """async (cases) => {
  const P = globalThis.AssayVerifierParts;
  const h = (s) => Uint8Array.from(s.match(/../g) || [], (x) => parseInt(x, 16));
  const out = {};
  for (const [name, [key, signature, message]] of Object.entries(cases)) {
    let raw = null;  // WebCrypto (BoringSSL) alone
    try {
      const k = await crypto.subtle.importKey("raw", h(key), {name: "Ed25519"}, false, ["verify"]);
      raw = await crypto.subtle.verify({name: "Ed25519"}, k, h(signature), h(message));
    } catch (e) { raw = "error: " + e.name; }
    out[name] = {
      rules: await P.ed25519Verify(h(key), h(message), h(signature)),
      key: P.publicKeyProblem(h(key)), signature: P.signatureProblem(h(signature)), raw,
    };
  }
  return out;
}"""


def test_ed25519_rules_agree_and_are_what_stands_between_webcrypto_and_a_forgery(
    offline_page: Page,
) -> None:
    """The page's Ed25519 check decides every case as libsodium and the spec do; once its
    rules pass, WebCrypto's equation agrees; before them, WebCrypto accepts forgeries."""
    cases = edwards.signature_cases()
    payload = {n: [k.hex(), s.hex(), m.hex()] for n, (k, s, m, _) in cases.items()}
    page = offline_page.evaluate(_ED25519, payload)
    lenient = set()
    for name, (key, signature, message, valid) in cases.items():
        got = page[name]
        assert got["rules"] is valid is ed25519.verify(key, message, signature), name
        assert got["key"] == ed25519.public_key_problem(key), name
        assert got["signature"] == ed25519.signature_problem(signature), name
        if got["key"] is None and got["signature"] is None:
            assert got["raw"] is valid, f"{name}: WebCrypto's equation disagrees"
        elif got["raw"] is True:
            lenient.add(name)
    # BoringSSL's verify is cofactorless with no small-order checks: without the rules the
    # page would accept these (docs/verifier.md). If Chromium changes, update the docs.
    assert {
        "identity key, identity R, S = 0",
        "identity key as y = p + 1",
        "honest, identity R",
    } <= lenient, lenient


_STRICT_JSON = """(texts) => texts.map((text) => {
  const tag = (v) => v instanceof Number ? ["f", v.valueOf()]
    : typeof v === "number" ? ["i", v]
    : Array.isArray(v) ? v.map(tag)
    : v !== null && typeof v === "object"
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, tag(x)]))
      : v;
  try {
    return JSON.stringify(tag(AssayVerifier.parseStrictJson(text)));
  } catch (e) {
    if (e.constructor.name !== "JsonError") throw e;
    return null;
  }
})"""


def _tagged(value: Any) -> Any:
    """Numbers as ["i"|"f", n], as the page tags them (ints and floats stay apart)."""
    if isinstance(value, dict):
        return {k: _tagged(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tagged(v) for v in value]
    if isinstance(value, float):
        return ["f", value]
    if isinstance(value, int) and not isinstance(value, bool):
        return ["i", value]
    return value


def test_strict_json_reads_alike(offline_page: Page) -> None:
    """The same texts, fuzzed around the limits: the same values, or refused by both."""
    texts = json_fuzz_texts(20261203, 1500)
    texts += [
        "[" * 64 + "]" * 64,
        "[" * 65 + "]" * 65,
        '{"__proto__": {"a": 1}, "b": [1.5, -0, 1e2]}',
        '["\ud83d\ude00", "\udbff\udfff", "\u0000"]',
        "[9007199254740991, 9007199254740992, 1e308, 1e309]",
    ]
    page = offline_page.evaluate(_STRICT_JSON, texts)
    differ = []
    for text, js in zip(texts, page, strict=True):
        try:
            py: Any = _tagged(strictjson.loads(text))
        except strictjson.JsonInputError:
            py = None
        if (None if js is None else json.loads(js)) != py:
            differ.append(f"{text[:70]!r}: python {py!s:.40} page {js!s:.40}")
    assert not differ, "\n".join(differ)
    assert 0 < sum(js is None for js in page) < len(texts)


def test_schema_table_is_current() -> None:
    """The page embeds each writer schema by fingerprint; it must match streams/schemas."""
    source = (STATIC / "verifier-encodings.js").read_text()
    match = re.search(r"const AVRO_SCHEMAS = (\{.*?\});\n", source)
    assert match, "AVRO_SCHEMAS table not found in verifier.js"
    table = json.loads(match.group(1))
    registry = default_registry()
    expected = {}
    for fingerprint, entry in registry.by_fingerprint.items():
        fields = [
            [f["name"], f["type"], *([f["default"]] if "default" in f else [])]
            for f in _avsc(entry.name, entry.version)["fields"]
        ]
        expected[fingerprint.hex()] = {
            "name": entry.name,
            "version": entry.version,
            "fields": fields,
        }
    assert table == expected, "regenerate AVRO_SCHEMAS in server/static/verifier-encodings.js"


def test_the_pages_kinds_table_is_generated_from_the_domains() -> None:
    assert (STATIC / "kinds.js").read_text() == javascript(), (
        "regenerate it: uv run python -m domain.kinds > server/static/kinds.js"
    )


def test_page_tells_every_kind() -> None:
    """The page's sentences for kinds live in its catalogues (test_page_catalogues.py)."""
    for lang in ("en", "zh-Hans", "ja"):
        missing = [k.value for k in Kind if f"event.{k.value}" not in catalogue(lang)]
        assert not missing, f"i18n-{lang}.js has no sentence for {missing}"


def _avsc(name: str, version: int) -> dict[str, Any]:
    path = ROOT / "streams" / "schemas" / f"{name}.v{version}.avsc"
    data: dict[str, Any] = json.loads(path.read_text())
    return data
