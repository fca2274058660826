"""Regenerate the proof-bundle vectors in this folder (deterministic).

    uv run python tests/anchoring/vectors/bundles/make_bundle_vectors.py

Each ``<scenario>.json`` is ``{"desc", "want_err", "bundle" | "bundle_b64",
"platform_key", "device_keys"}``: a verifier given the bundle, the pinned platform key (C2SP
verifier key text) and the pinned device keys (``{"party/device": "<hex>"}`` or null: use
the keys the bundle lists) must fail with the step code ``want_err``, or accept when it is
null. The bundle is ``bundle`` written as JSON, or exactly the bytes ``bundle_b64`` holds
(input no JSON value can stand for: NaN, a duplicate key, a byte-order mark, invalid
UTF-8, …). The codes and the algorithm are in docs/proof-bundle.md; the vectors are
self-contained so a browser verifier can run them too.

Everything is fixed: keys come from seeds, custody times from ``T0``, seal times from a
counter, so the same code always writes the same bytes (a test checks that). The world is
a small ledger sealed in blocks of ``BLOCK_EVENTS`` notifications, with

* item A, a genuine bag through brand → lab → DC → store → sold (seven events over
  several blocks), and one more shipment after the checkpoint (pending);
* item B, first seen by the DC before the brand registered it: a platform flag
  (``unknown_item``, with the DC's scan as evidence), then its commissioning;
* items C, D, E, anchored by a platform that did not check what it anchored: C's
  envelope is signed by an impostor key, D's is labelled with another device than its
  body names, E's envelope is another item's;
* a fork: the same platform key over another ledger where item A went to another store;
* the hostile inputs of ``tests/anchoring/hostile_bundles.py`` (strict JSON, canonical
  Avro, Ed25519 edge cases).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

# Run as a script: the repository's tests package, not another distribution's `tests`.
sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.hasher import node_hash
from anchoring.merkle import expected_path_shape
from anchoring.prove import Prover
from anchoring.sealer import Anchor, SealPolicy
from domain.custody import CustodyEvent, Role
from ledger.application import CustodyLedger, Report
from ledger.config import store_env
from streams.envelope import seal
from streams.keys import DeviceKey
from tests.anchoring.hostile_bundles import hostile_vectors
from tests.anchoring.hostile_signatures import signature_vectors
from tests.anchoring.vectorkit import as_received, check, v1_note, write
from tests.ledger.helpers import brand_authority
from tests.support import custody

OUT = Path(__file__).parent
ORIGIN = "assay.example/custody-log"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BLOCK_EVENTS = 6
ITEM_A, ITEM_B, ITEM_C, ITEM_D, ITEM_E = (f"urn:epc:id:sgtin:4012345.0{n}.7" for n in "12345")
PARTIES = {
    "brand": ("Maison Brand", Role.BRAND),
    "lab": ("Authentication Lab", Role.APPRAISER),
    "dc": ("Central DC", Role.WAREHOUSE),
    "ginza": ("Ginza Store", Role.STORE),
    "osaka": ("Osaka Store", Role.STORE),
}
Vector = dict[str, Any]


def _seed(name: str) -> bytes:
    return hashlib.sha256(f"assay bundle vectors/{name}".encode()).digest()


def device_key(party: str, seed_name: str | None = None) -> DeviceKey:
    return DeviceKey(party, f"{party}-d1", SigningKey(_seed(seed_name or party)))


PLATFORM = Signer.from_seed(ORIGIN, _seed("platform"))
IMPOSTOR_PLATFORM = Signer.from_seed(ORIGIN, _seed("another platform key"))
KEYS = {party: device_key(party) for party in PARTIES}


def event(n: int, item: str, kind: str, party: str, **details: Any) -> CustodyEvent:
    return custody(
        n,
        kind,
        party,
        item,
        event_id=f"{item}#{n}",
        location=f"urn:epc:id:sgln:4012345.{party}.0",
        occurred_at=T0 + timedelta(hours=n),
        **details,
    )


def signed(custody: CustodyEvent, key: DeviceKey | None = None) -> Report:
    return Report(custody, seal(custody, key or KEYS[custody.party_id]))


def story_a(store: str) -> list[Report]:
    a = ITEM_A
    return [
        signed(event(1, a, "commissioning", "brand", tag_uid="NFC-A", brand="Maison",
                     model="Sac 25", serial="A-0001")),
        signed(event(2, a, "inspecting", "lab", verdict="genuine", certificate="CERT-A")),
        signed(event(3, a, "shipping", "brand", counterparty="dc")),
        signed(event(4, a, "receiving", "dc")),
        signed(event(5, a, "shipping", "dc", counterparty=store)),
        signed(event(6, a, "receiving", store)),
        signed(event(7, a, "retail_selling", store, buyer_ref="buyer-7731")),
    ]  # fmt: skip


def other_reports() -> list[Report]:
    b, c, d, e = ITEM_B, ITEM_C, ITEM_D, ITEM_E
    commission = {"brand": "Maison", "model": "Pochette"}
    impostor = device_key("brand", "impostor")
    mislabelled = DeviceKey("lab", "lab-d1", KEYS["lab"].signing_key)
    elsewhere = event(
        1,
        "urn:epc:id:sgtin:4012345.09.7",
        "commissioning",
        "brand",
        tag_uid="NFC-X",
        serial="X-1",
        **commission,
    )
    return [
        signed(event(1, b, "observing", "dc")),
        signed(event(2, b, "commissioning", "brand", tag_uid="NFC-B", serial="B-1", **commission)),
        signed(event(1, c, "commissioning", "brand", tag_uid="NFC-C", serial="C-1", **commission),
               impostor),
        signed(event(1, d, "commissioning", "brand", tag_uid="NFC-D", serial="D-1", **commission),
               mislabelled),
        Report(event(1, e, "commissioning", "brand", tag_uid="NFC-E", serial="E-1", **commission),
               signed(elsewhere).envelope),
    ]  # fmt: skip


class World:
    def __init__(self, root: Path, header_version: int = 1) -> None:
        self.ledger = CustodyLedger(store_env("", root / "ledger.sqlite"))
        self.chain = Chain(store_env("", root / "chain.sqlite"))
        self.checkpoint = root / "checkpoint"
        seals = iter(range(1, 10_000))
        self.anchor = Anchor(
            self.ledger,
            self.chain,
            PLATFORM,
            origin=ORIGIN,
            policy=SealPolicy(max_events=BLOCK_EVENTS, max_seconds=1e9),
            checkpoint_path=self.checkpoint,
            clock=lambda: (T0 + timedelta(days=1, seconds=next(seals))).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            ),
            # These vectors pin format version 1 (docs/proof-bundle.md §7); the version 2 ones
            # (tests/anchoring/vectors/complete) use this world with version 2 headers.
            header_version=header_version,
        )
        for party, (name, role) in PARTIES.items():
            self.ledger.register_party(party, name, role, *brand_authority(party))
            self.ledger.enrol_device(
                party, f"{party}-d1", KEYS[party].public_key_hex, at=T0 - timedelta(days=30)
            )

    def record(self, reports: list[Report]) -> None:
        for report in reports:
            (decision,) = self.ledger.process([report], None)
            assert decision.accepted, decision.refusal

    def note(self, checkpoint_version: int = 1) -> str:
        """The head's checkpoint: version 1 (root = the head block's hash), which bundle
        versions 1 and 2 carry, or the anchor's own (version 2 on version 2 blocks)."""
        if checkpoint_version == 1:
            return v1_note(self.anchor, PLATFORM)
        return self.checkpoint.read_text()

    def prover(self, checkpoint_version: int = 1) -> Prover:
        return Prover(self.ledger, self.chain, self.note(checkpoint_version))

    def prove(self, item_id: str, version: int | None = None) -> Vector:
        self.anchor.catch_up()
        checkpoint_version = 2 if version == 3 else 1
        return as_received(self.prover(checkpoint_version).prove(item_id, version))


@contextmanager
def world(header_version: int = 1) -> Iterator[World]:
    with tempfile.TemporaryDirectory(prefix="assay-vectors-") as tmp:
        yield World(Path(tmp), header_version)


def interleave(first: list[Report], second: list[Report]) -> list[Report]:
    out: list[Report] = []
    for n in range(max(len(first), len(second))):
        out.extend(first[n : n + 1] + second[n : n + 1])
    return out


# ----- mutations -----------------------------------------------------------------------------


def flip_hex_bit(text: str) -> str:
    raw = bytearray.fromhex(text)
    raw[0] ^= 0x01
    return raw.hex()


def flip_b64_byte(text: str, offset: int) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[offset] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def first_event_sharing_a_block(bundle: Vector, min_leaves: int = 2) -> Vector:
    counts = {b["header"]["height"]: b["header"]["leaf_count"] for b in bundle["blocks"]}
    return next(e for e in bundle["events"] if counts[e["height"]] >= min_leaves and e["path"])


def claimed_block(bundle: Vector) -> tuple[int, int, str]:
    """(event position, other block, expected step) for an event claiming another block:
    one whose path has the right shape there if any (only the root differs), else the
    first whose index fits."""
    counts = {b["header"]["height"]: b["header"]["leaf_count"] for b in bundle["blocks"]}
    fitting = []
    for position, entry in enumerate(bundle["events"]):
        sides = [next(iter(step)) for step in entry["path"]]
        for height, count in counts.items():
            if height != entry["height"] and entry["leaf_index"] < count:
                same = expected_path_shape(entry["leaf_index"], count) == sides
                fitting.append((not same, position, height))
    _, position, height = min(fitting)
    same = min(fitting)[0] is False
    return position, height, "merkle_root" if same else "merkle_path_shape"


def build_vectors() -> dict[str, Vector]:
    with world() as main, world() as fork:
        main.record(interleave(story_a("ginza"), other_reports()))
        a, b = main.prove(ITEM_A), main.prove(ITEM_B)
        c, d, e = main.prove(ITEM_C), main.prove(ITEM_D), main.prove(ITEM_E)
        main.record([signed(event(3, ITEM_B, "shipping", "brand", counterparty="dc"))])
        main.ledger.process([signed(event(4, ITEM_B, "receiving", "dc"))], None)
        b_pending = as_received(main.prover().prove(ITEM_B))
        fork.record(interleave(story_a("osaka"), other_reports()))
        a_fork = fork.prove(ITEM_A)

    vectors: dict[str, Vector] = {}

    def add(name: str, desc: str, bundle: Vector, want: str | None, **kw: Any) -> None:
        vectors[name] = {
            "desc": desc,
            "want_err": want,
            "bundle": bundle,
            "platform_key": kw.get("platform_key", PLATFORM.verifier_text()),
            "device_keys": kw.get("device_keys"),
        }

    def mutated(bundle: Vector, change: Callable[[Vector], None]) -> Vector:
        out = copy.deepcopy(bundle)
        change(out)
        return out

    n_blocks = len(a["blocks"])
    add("happy-path", f"item A's seven signed events in {n_blocks} blocks, all valid", a, None)
    add(
        "pending-events",
        "item B: a flag and a commissioning proven, two later events pending (not yet sealed)",
        b_pending,
        None,
    )
    add(
        "flag-with-evidence",
        "item B: a platform flag (unknown_item) carrying the DC's signed scan as evidence, "
        "then the brand's commissioning",
        b,
        None,
    )

    target = first_event_sharing_a_block(a)
    index = a["events"].index(target)

    def flip_path(x: Vector) -> None:
        ((side, digest),) = x["events"][index]["path"][0].items()
        x["events"][index]["path"][0] = {side: flip_hex_bit(digest)}

    add(
        "flipped-bit-in-path",
        f"lowest bit of the first path hash of event v{target['version']} flipped",
        mutated(a, flip_path),
        "merkle_root",
    )

    def wrong_index(x: Vector) -> None:
        entry = x["events"][index]
        entry["leaf_index"] ^= 1

    add(
        "wrong-leaf-index",
        f"event v{target['version']}'s valid path presented under the neighbouring leaf index",
        mutated(a, wrong_index),
        "merkle_path_shape",
    )

    def truncate(x: Vector) -> None:
        x["events"][index]["path"].pop()

    add(
        "truncated-path",
        f"last entry of event v{target['version']}'s path removed",
        mutated(a, truncate),
        "merkle_path_shape",
    )

    def second_preimage(x: Vector) -> None:
        entry = x["events"][index]
        ((side, sibling),) = entry["path"][0].items()
        leaf, other = bytes.fromhex(entry["leaf"]), bytes.fromhex(sibling)
        parent = node_hash(other, leaf) if side == "left" else node_hash(leaf, other)
        block = next(b for b in x["blocks"] if b["header"]["height"] == entry["height"])
        leaf_count = block["header"]["leaf_count"]
        shorter = entry["path"][1:]
        entry["leaf"] = parent.hex()
        # A leaf index whose path is as long as the shorter one, if any: then only the
        # sides give it away.
        same_length = (
            i for i in range(leaf_count) if len(expected_path_shape(i, leaf_count)) == len(shorter)
        )
        entry["leaf_index"] = next(same_length, entry["leaf_index"] // 2)
        entry["path"] = shorter

    add(
        "second-preimage-interior-node",
        f"the parent of event v{target['version']}'s leaf posing as a leaf, with the rest of "
        "the path (which reproduces the root); the path's shape gives it away",
        mutated(a, second_preimage),
        "merkle_path_shape",
    )

    swap_event, swap_height, swap_want = claimed_block(a)

    def swap_block(x: Vector) -> None:
        x["events"][swap_event]["height"] = swap_height

    add(
        "swapped-block",
        f"event v{swap_event + 1} claims block {swap_height} of the bundle as its own",
        mutated(a, swap_block),
        swap_want,
    )
    add(
        "wrong-checkpoint-key",
        "the bundle checked against another platform key with the same name",
        a,
        "checkpoint_signature",
        platform_key=IMPOSTOR_PLATFORM.verifier_text(),
    )

    def drop_middle(x: Vector) -> None:
        del x["events"][3]

    add(
        "dropped-middle-event",
        "event v4 of seven left out of the history",
        mutated(a, drop_middle),
        "history_gap",
    )

    def tamper_envelope(x: Vector) -> None:
        entry = x["events"][1]
        entry["payload_b64"] = flip_b64_byte(entry["payload_b64"], 40)

    add(
        "tampered-envelope",
        "one byte of event v2's signed envelope changed",
        mutated(a, tamper_envelope),
        "leaf_hash",
    )

    def tamper_summary(x: Vector) -> None:
        x["events"][1]["summary"]["verdict"] = "counterfeit"

    add(
        "tampered-summary",
        "event v2's displayed verdict changed from genuine to counterfeit",
        mutated(a, tamper_summary),
        "summary_mismatch",
    )
    add(
        "forged-device-signature",
        "item C's envelope, anchored by a careless platform, was signed by an impostor key "
        "for brand/brand-d1; the brand's real device keys are pinned",
        c,
        "device_signature",
        device_keys={f"{p}/{k.device_id}": k.public_key_hex for p, k in KEYS.items()},
    )
    add(
        "relabelled-envelope",
        "item D's envelope is labelled lab/lab-d1 (and signed by it) but its body names "
        "brand/brand-d1",
        d,
        "envelope_device",
    )
    add(
        "envelope-of-another-item",
        "item E's anchored envelope is a signed event about another item",
        e,
        "item_mismatch",
    )

    def drop_device(x: Vector) -> None:
        del x["devices"]["lab/lab-d1"]

    add(
        "unknown-device",
        "the key of the lab's device is missing and none is pinned",
        mutated(a, drop_device),
        "device_key",
    )

    def tamper_evidence(x: Vector) -> None:
        entry = x["events"][0]
        entry["evidence_b64"] = flip_b64_byte(entry["evidence_b64"], 40)

    add(
        "tampered-flag-evidence",
        "one byte of the evidence envelope of item B's flag changed",
        mutated(b, tamper_evidence),
        "evidence_hash",
    )

    def tamper_header(x: Vector) -> None:
        x["blocks"][0]["header"]["sealed_at"] = "2026-03-02T09:00:00.000000Z"

    add(
        "tampered-block-header",
        "the seal time in the header of the bundle's first block changed",
        mutated(a, tamper_header),
        "acc_inclusion",
    )
    fork_heights = {blk["header"]["height"]: blk for blk in a_fork["blocks"]}
    diverged = next(
        i
        for i, blk in enumerate(a["blocks"][:-1])
        if blk["header"]["height"] in fork_heights
        and fork_heights[blk["header"]["height"]]["header"] != blk["header"]
    )

    def from_fork(x: Vector) -> None:
        height = x["blocks"][diverged]["header"]["height"]
        x["blocks"][diverged] = copy.deepcopy(fork_heights[height])

    add(
        "block-from-fork",
        "a block (and its accumulator proof) from another chain signed with the same key, "
        "where item A went to another store",
        mutated(a, from_fork),
        "acc_inclusion",
    )

    def other_head(x: Vector) -> None:
        x["head"] = copy.deepcopy(x["blocks"][0]["header"])

    add(
        "head-not-checkpointed",
        "the head header replaced by an older block's header",
        mutated(a, other_head),
        "checkpoint_head",
    )

    def future_version(x: Vector) -> None:
        x["version"] = 2

    add(
        "unsupported-version",
        "a bundle of a version this verifier does not know",
        mutated(a, future_version),
        "bundle_format",
    )
    vectors.update(hostile_vectors(a, PLATFORM.verifier_text(), KEYS["brand"]))
    vectors.update(signature_vectors(KEYS["brand"], a, PLATFORM.verifier_text(), _seed("platform")))
    for name, vector in vectors.items():
        check(name, vector)
    return vectors


def main() -> None:
    write(OUT, build_vectors())


if __name__ == "__main__":
    main()
