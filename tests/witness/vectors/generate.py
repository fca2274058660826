"""Write the witness test vectors (cosignature/*.json, policy/*.json) from fixed seeds.

    uv run python -m tests.witness.vectors.generate

Ed25519 is deterministic, so the files are reproducible byte for byte;
tests/witness/test_vectors.py checks that, then walks every file. The happy-path line
was also checked against transparency-dev/formats (Go) ``NewVerifierForCosignatureV1``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from anchoring.checkpoint import Signer, sign_note
from witness.cosignature import WitnessSigner, signed_message
from witness.note import SignatureLine, parse_signature_line

HERE = Path(__file__).resolve().parent
NOW = 1_700_000_000
#: The example checkpoint of C2SP tlog-cosignature.
BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
OTHER_BODY = "example.com/behind-the-sofa\n20852164\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


def seed(label: str) -> bytes:
    return hashlib.sha256(b"assay witness vector " + label.encode()).digest()


def witness(label: str, name: str | None = None) -> WitnessSigner:
    return WitnessSigner.from_seed(name or f"witness.example/{label}", seed(label))


def flip(line: str, byte: int) -> str:
    parsed = parse_signature_line(line)
    raw = bytearray(parsed.key_id + parsed.signature)
    raw[byte] ^= 0x01
    return SignatureLine(parsed.name, bytes(raw[:4]), bytes(raw[4:])).text()


def raw_cosignature(key: WitnessSigner, seed_label: str, body: str, timestamp: int) -> str:
    """A cosignature line signed over any 64-bit timestamp, bypassing cosign's range check."""
    signature = SigningKey(seed(seed_label)).sign(signed_message(body, timestamp)).signature
    raw = struct.pack(">Q", timestamp) + bytes(signature)
    return SignatureLine(key.name, key.verifier().key_id, raw).text()


def cosignature_vectors() -> dict[str, dict[str, Any]]:
    w1 = witness("w1")
    vkey = w1.verifier().to_text()
    good = w1.cosign(BODY, 1679315147)
    impostor = witness("impostor", w1.name)
    renamed = witness("w1", "witness.example/renamed")
    prefix = good.split(" ")[0] + " " + good.split(" ")[1] + " "
    encoded = good.split(" ")[2].strip()
    short = base64.b64encode(base64.b64decode(encoded)[:-4]).decode()

    def case(desc: str, line: str, **want: Any) -> dict[str, Any]:
        vector: dict[str, Any] = {"desc": desc, "vkey": vkey, "body": BODY, "line": line}
        vector["now"] = NOW
        vector.update(want)
        return vector

    return {
        "happy-path": {
            **case(
                "fixed seed, name, time and checkpoint (C2SP's example) reproduce this line",
                good,
                want={"timestamp": 1679315147},
            ),
            "seed": seed("w1").hex(),
            "name": w1.name,
            "timestamp": 1679315147,
            "standard_vkey": Signer.from_seed(w1.name, seed("w1")).verifier_text(),
        },
        "forged-signature@last-bit": case(
            "one bit of the Ed25519 signature flipped",
            flip(good, 75),
            want_err="cosignature_signature",
        ),
        "forged-timestamp": case(
            "the timestamp changed by one second, signature kept",
            flip(good, 11),
            want_err="cosignature_signature",
        ),
        "other-checkpoint": case(
            "a valid cosignature of another checkpoint (size + 1)",
            w1.cosign(OTHER_BODY, 1679315147),
            want_err="cosignature_signature",
        ),
        "wrong-key-same-name": case(
            "signed by another key under the witness's name: the key id differs",
            impostor.cosign(BODY, 1679315147),
            want_err="cosignature_key",
        ),
        "same-key-other-name": case(
            "the witness's key under another name: the key id differs",
            renamed.cosign(BODY, 1679315147),
            want_err="cosignature_key",
        ),
        "future-dated": case(
            "valid, but dated an hour after now (tolerance 300 s)",
            w1.cosign(BODY, NOW + 3600),
            want_err="cosignature_future",
        ),
        "future-within-tolerance": case(
            "valid and dated 200 s after now: within the 300 s tolerance",
            w1.cosign(BODY, NOW + 200),
            want={"timestamp": NOW + 200},
        ),
        "timestamp-above-2^63": case(
            "validly signed over timestamp 2**63: beyond the spec's range",
            raw_cosignature(w1, "w1", BODY, 2**63),
            want_err="cosignature_format",
        ),
        "truncated-signature": case(
            "four bytes short of key id + timestamp + 64-byte signature",
            prefix + short + "\n",
            want_err="cosignature_format",
        ),
        "non-canonical-base64": case(
            "base64 without its padding",
            prefix + encoded.rstrip("=") + "\n",
            want_err="cosignature_format",
        ),
        "no-em-dash": case(
            "a hyphen where the em dash belongs", "-" + good[1:], want_err="cosignature_format"
        ),
    }


def policy_vectors() -> dict[str, dict[str, Any]]:
    log = Signer.from_seed("example.com/behind-the-sofa", seed("log"))
    other_log = Signer.from_seed("example.com/behind-the-sofa", seed("other-log"))
    ws = {label: witness(label) for label in ("x1", "x2", "x3", "y1", "y2")}
    vkeys = {label: w.verifier().to_text() for label, w in ws.items()}
    note = sign_note(BODY, log)
    t = NOW - 60

    def cosigned(*lines: str, base: str = note) -> str:
        return base + "".join(lines)

    def line(label: str, timestamp: int = t) -> str:
        return ws[label].cosign(BODY, timestamp)

    two_of_three = "\n".join(
        [
            "# three brand partners, any two suffice",
            f"log {log.verifier_text()}",
            f"witness X1 {vkeys['x1']} http://127.0.0.1:1",
            f"witness X2 {vkeys['x2']}",
            f"witness\tX3\t{vkeys['x3']}",
            "group partners 2 X1 X2 X3",
            "quorum partners",
            "",
        ]
    )
    no_log = "\n".join(two_of_three.split("\n")[:1] + two_of_three.split("\n")[2:])
    nested = "\n".join(
        [
            f"witness X1 {vkeys['x1']}",
            f"witness X2 {vkeys['x2']}",
            f"witness X3 {vkeys['x3']}",
            "group X 2 X1 X2 X3",
            f"witness Y1 {vkeys['y1']}",
            f"witness Y2 {vkeys['y2']}",
            "group Y any Y1 Y2",
            "group X-and-Y all X Y",
            "quorum X-and-Y",
        ]
    )

    def ok(desc: str, policy: str, note_text: str, **want: Any) -> dict[str, Any]:
        full = {"quorum_met": True, "cosigned": [], "refused": [], "ignored_lines": 1}
        full["failure"] = None
        full.update(want)
        return {"desc": desc, "policy": policy, "note": note_text, "now": NOW, "want": full}

    def bad(desc: str, policy: str, line_number: int | None) -> dict[str, Any]:
        return {"desc": desc, "policy": policy, "want_err": "witness_policy", "line": line_number}

    unknown = witness("stranger").cosign(BODY, t)
    lookalike = witness("impostor", ws["x3"].name).cosign(BODY, t)
    return {
        "quorum-2-of-3-met": ok(
            "two of three partners cosigned",
            two_of_three,
            cosigned(line("x1"), line("x2")),
            cosigned=["X1", "X2"],
        ),
        "quorum-2-of-3-all-three": ok(
            "all three cosigned",
            two_of_three,
            cosigned(line("x1"), line("x2"), line("x3")),
            cosigned=["X1", "X2", "X3"],
        ),
        "quorum-2-of-3-only-one": ok(
            "one partner only",
            two_of_three,
            cosigned(line("x3")),
            quorum_met=False,
            cosigned=["X3"],
            failure="witness_quorum",
        ),
        "duplicated-line-counts-once": ok(
            "X1's line twice (and a second, later X1 line) still count as one witness",
            two_of_three,
            cosigned(line("x1"), line("x1"), line("x1", t + 1)),
            quorum_met=False,
            cosigned=["X1"],
            failure="witness_quorum",
        ),
        "forged-line-refused": ok(
            "X2's line forged (one bit): refused, reported, not counted",
            two_of_three,
            cosigned(line("x1"), flip(line("x2"), 70)),
            quorum_met=False,
            cosigned=["X1"],
            failure="witness_quorum",
            refused=[["X2", "cosignature_signature"]],
        ),
        "forged-line-beside-valid-ones": ok(
            "a forged X3 line does not spoil the valid X1 and X2 lines",
            two_of_three,
            cosigned(line("x1"), flip(line("x3"), 70), line("x2")),
            cosigned=["X1", "X2"],
            refused=[["X3", "cosignature_signature"]],
        ),
        "future-dated-refused": ok(
            "X2 dated an hour ahead: refused",
            two_of_three,
            cosigned(line("x1"), line("x2", NOW + 3600)),
            quorum_met=False,
            cosigned=["X1"],
            failure="witness_quorum",
            refused=[["X2", "cosignature_future"]],
        ),
        "unknown-lines-ignored": ok(
            "a stranger's line and a lookalike of X3 (same name, other key) are ignored",
            two_of_three,
            cosigned(unknown, line("x1"), lookalike, line("x2")),
            cosigned=["X1", "X2"],
            ignored_lines=3,
        ),
        "nested-groups-met": ok(
            "sigsum's example: 2 of X and any of Y",
            nested,
            cosigned(line("x1"), line("x3"), line("y2")),
            cosigned=["X1", "X3", "Y2"],
        ),
        "nested-groups-missing-y": ok(
            "2 of X but no Y",
            nested,
            cosigned(line("x1"), line("x2"), line("x3")),
            quorum_met=False,
            cosigned=["X1", "X2", "X3"],
            failure="witness_quorum",
        ),
        "quorum-none": ok(
            "quorum none: no cosignature needed",
            f"witness X1 {vkeys['x1']}\nquorum none\n",
            note,
        ),
        "quorum-one-witness": ok(
            "quorum is a single witness",
            f"witness X1 {vkeys['x1']}\nquorum X1\n",
            cosigned(line("x2"), line("x1")),
            cosigned=["X1"],
            ignored_lines=2,
        ),
        "log-signature-missing": ok(
            "the policy's log did not sign: signed by another key of the same name",
            two_of_three,
            cosigned(line("x1"), line("x2"), base=sign_note(BODY, other_log)),
            quorum_met=False,
            failure="log_signature",
            ignored_lines=0,
        ),
        "no-log-in-policy": ok(
            "without log lines the log signature is the caller's to check",
            no_log,
            cosigned(line("x1"), line("x2"), base=sign_note(BODY, other_log)),
            cosigned=["X1", "X2"],
        ),
        "malformed-note": ok(
            "no blank line before the signatures",
            two_of_three,
            BODY + line("x1"),
            quorum_met=False,
            failure="checkpoint_format",
            ignored_lines=0,
        ),
        "policy-unknown-keyword": bad("'witnesses' is not a keyword", "witnesses X1 k\n", 1),
        "policy-no-quorum": bad("no quorum line", f"witness X1 {vkeys['x1']}\n", None),
        "policy-two-quorums": bad(
            "two quorum lines", f"witness X1 {vkeys['x1']}\nquorum X1\nquorum none\n", 3
        ),
        "policy-forward-reference": bad(
            "a group names a witness defined below it",
            f"group g any X1\nwitness X1 {vkeys['x1']}\nquorum g\n",
            1,
        ),
        "policy-threshold-zero": bad(
            "k = 0", f"witness X1 {vkeys['x1']}\ngroup g 0 X1\nquorum g\n", 2
        ),
        "policy-threshold-above-n": bad(
            "k = 2 of 1", f"witness X1 {vkeys['x1']}\ngroup g 2 X1\nquorum g\n", 2
        ),
        "policy-member-twice": bad(
            "X1 in two groups",
            f"witness X1 {vkeys['x1']}\ngroup a any X1\ngroup b any X1\nquorum a\n",
            3,
        ),
        "policy-none-member": bad(
            "none as a member", f"witness X1 {vkeys['x1']}\ngroup g any X1 none\nquorum g\n", 2
        ),
        "policy-duplicate-name": bad(
            "X1 defined twice",
            f"witness X1 {vkeys['x1']}\nwitness X1 {vkeys['x2']}\nquorum X1\n",
            2,
        ),
        "policy-duplicate-witness-key": bad(
            "the same key under two names",
            f"witness X1 {vkeys['x1']}\nwitness X2 {vkeys['x1']}\nquorum X1\n",
            2,
        ),
        "policy-witness-ed25519-vkey": bad(
            "a witness vkey of type 0x01 (a log key) instead of cosignature/v1",
            f"witness X1 {log.verifier_text()}\nquorum X1\n",
            1,
        ),
        "policy-log-cosignature-vkey": bad(
            "a log vkey of type 0x04", f"log {vkeys['x1']}\nquorum none\n", 1
        ),
        "policy-carriage-return": bad(
            "CRLF line ends: CR is a control character",
            f"witness X1 {vkeys['x1']}\r\nquorum X1\n",
            1,
        ),
    }


def write_all(root: Path = HERE) -> list[Path]:
    written = []
    for folder, vectors in (("cosignature", cosignature_vectors()), ("policy", policy_vectors())):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, vector in vectors.items():
            path = root / folder / f"{name}.json"
            path.write_text(json.dumps(vector, indent=2, ensure_ascii=False) + "\n")
            written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all():
        print(path.relative_to(HERE))
