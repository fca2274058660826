"""``prove(item)``: a self-contained, versioned JSON bundle for one item's history.

docs/proof-bundle.md describes every field. The bundle carries the item's anchored events
(exact envelope bytes, or the platform record and the evidence envelope it commits to),
each with its leaf index, Merkle path and block; each block's accumulator proof into the
head the checkpoint signs; the checkpoint (as given: a witness-cosigned note stays
cosigned) and, when it is a version 2 checkpoint (the block log's tree head), the head's
inclusion proof in it; and the device public keys. Recorded events
not yet sealed into that head are listed as pending, never silently left out.

A ``Prover`` is meant to live long (e.g. in a server): it keeps the chain's block hashes
in an RFC 9162 tree with every perfect subtree's root, so an accumulator proof costs
O(log n) lookups, and :meth:`Prover.refresh` reads only blocks sealed since. Per bundle
it reads the item's events, its leaf index rows and the packed trees of just the blocks
those leaves are in.
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from typing import Any

from anchoring import strictjson
from anchoring.chain import Chain, header_from_row
from anchoring.checkpoint import Checkpoint, split_note
from anchoring.errors import VerificationError
from anchoring.header import BlockHeader
from anchoring.headmap import MapEntry, item_key
from anchoring.leaves import ZERO_HASH, flag_summary, read_signed, signed_fields
from anchoring.logtree import CHECKPOINT_V2, BlockHashTree, checkpoint_version
from anchoring.mapcheck import proof_json
from anchoring.mapcheck_v5 import COMPACT_VERSION, proof_json_v5, respell
from anchoring.merkle import packed_leaf, packed_path
from anchoring.prove_registry import RegistryError, registry_of, registry_switched
from anchoring.recorders import LeafRow
from anchoring.verify_owner import owner_summary
from anchoring.verify_result import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    BUNDLE_VERSION_2,
    BUNDLE_VERSION_3,
    BUNDLE_VERSION_4,
    BUNDLE_VERSION_5,
)
from domain.errors import UnknownParty
from ledger.application import CustodyLedger
from ledger.records import is_item_event, item_record
from streams.errors import SerializationError

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "BlockHashTree",
    "ProveError",
    "Prover",
    "UnknownItem",
]


HEADER_CACHE = 100_000


class ProveError(LookupError):
    pass


class UnknownItem(ProveError):
    """The ledger has never recorded this id: :meth:`Prover.prove_absence` proves it."""


class Prover:
    def __init__(self, ledger: CustodyLedger, chain: Chain, checkpoint_text: str) -> None:
        self.ledger = ledger
        self.chain = chain
        self.tree = BlockHashTree()
        self.checkpoint_text = checkpoint_text
        self.head: BlockHeader | None = None
        #: 1: the checkpoint signs the head's hash; 2: the block log's tree head.
        self.checkpoint_version = 0
        # Headers never change once sealed; device entries may (a re-enrolment): those
        # are forgotten on every refresh.
        self._headers: OrderedDict[int, BlockHeader] = OrderedDict()
        self._devices: dict[str, dict[str, Any] | None] = {}
        #: the log's signature line (name, key id) a verifier pins; set by :meth:`refresh`
        self.signer: dict[str, str] = {}
        self.refresh(checkpoint_text)

    def refresh(self, checkpoint_text: str | None = None) -> None:
        """Adopt a newer checkpoint (or re-read the chain), loading only new blocks."""
        text = self.checkpoint_text if checkpoint_text is None else checkpoint_text
        checkpoint, signer = _read_note(text)
        if self.tree.size < checkpoint.size:
            for block_hash in self.chain.block_hashes(self.tree.size):
                self.tree.append(block_hash)
        if self.tree.size < checkpoint.size:
            raise ProveError(
                f"the checkpoint names {checkpoint.size} blocks; the chain has {self.tree.size}"
            )
        height = checkpoint.size - 1
        kind = checkpoint_version(self.tree, checkpoint.size, checkpoint.head_hash)
        if kind is None:
            raise ProveError(
                f"the checkpoint's root is neither block {height}'s hash nor the tree head of "
                f"blocks 0..{height}: it is not a checkpoint of this chain"
            )
        self.checkpoint_version = kind
        if self.head is None or self.head.height != height:
            self.head = self._trees([height])[height][0]
        self.checkpoint_text = text
        self.signer = signer
        self._devices.clear()
        self._switched: bool | None = None  # the head block holds parties and devices

    def prove(self, item_id: str, version: int | None = None) -> dict[str, Any]:
        """The item's bundle. With a version 2 checkpoint: ``version`` 5 (complete history,
        the head proven into the log's tree head, parties and devices proven, map proofs in
        base64url; the default from the chain's registry switch), 4 (the same in hex), or 3
        (no registry; the default before the switch). With a version 1 checkpoint: 2 (complete;
        the default when the head is a version 2 block) or 1 (inclusion only).
        :class:`UnknownItem` if the ledger never recorded the id."""
        head = self.head
        assert head is not None
        version = self.bundle_version(version)
        events = self.ledger.item_events(item_id)
        if not events or not is_item_event(events[0]):
            raise UnknownItem(f"no item {item_id!r} in the ledger")
        rows = {row.version: row for row in self.chain.leaves_for(item_id)}
        anchored: list[tuple[Any, LeafRow]] = []
        pending: list[Any] = []
        for event in events:
            row = rows.get(event.originator_version)
            if pending or row is None or row.height > head.height:
                pending.append(event)
            else:
                anchored.append((event, row))
        if not anchored:
            raise ProveError(f"no event of {item_id!r} is anchored in the checkpoint yet")
        trees = self._trees({row.height for _, row in anchored})
        devices: dict[str, dict[str, Any]] = {}
        out_events = []
        prev = ZERO_HASH
        for event, row in anchored:
            header, tree = trees[row.height]
            if packed_leaf(tree, row.leaf_index) != row.leaf_hash:
                raise ProveError(f"leaf index of {item_id} v{row.version} is inconsistent")
            out_events.append(self._event_entry(item_id, event, row, header, tree, prev, devices))
            prev = row.leaf_hash
        bundle = {
            "format": BUNDLE_FORMAT,
            "version": version,
            "item_id": item_id,
            "checkpoint": self.checkpoint_text,
            "checkpoint_key": self.signer,
            "head": head.to_json(),
            "blocks": [self._block_entry(trees[h][0], head) for h in sorted(trees)],
            "events": out_events,
            "devices": devices,
            "pending": [
                {"version": e.originator_version, "summary": self._summary(e, devices)}
                for e in pending
            ],
        }
        if version != BUNDLE_VERSION:
            entry, proof = self.map_proof(item_id, head.height, version)
            last = anchored[-1][1]
            if entry != MapEntry(last.version, last.leaf_hash, last.height, last.leaf_index):
                raise ProveError(f"the head map's entry of {item_id!r} is not its last leaf")
            assert entry is not None
            bundle["map_entry"] = entry.to_json()
            bundle["map_proof"] = proof
        if version in (BUNDLE_VERSION_3, BUNDLE_VERSION_4, BUNDLE_VERSION_5):
            bundle["head_proof"] = self.head_proof()
        if version in (BUNDLE_VERSION_4, BUNDLE_VERSION_5):
            try:
                registry = registry_of(self.ledger, self.chain, bundle, head.height)
            except RegistryError as e:
                raise ProveError(f"the registry cannot be proven: {e}") from None
            if version == BUNDLE_VERSION_5:
                for member in (*registry["parties"].values(), *registry["devices"].values()):
                    member["map_proof"] = respell(member["map_proof"])
            bundle["registry"] = registry
        return bundle

    def bundle_version(self, version: int | None) -> int:
        """The format to write: what was asked for, if this checkpoint can carry it."""
        head = self.head
        assert head is not None
        if self.checkpoint_version == CHECKPOINT_V2:
            if version not in (None, BUNDLE_VERSION_3, BUNDLE_VERSION_4, BUNDLE_VERSION_5):
                raise ProveError(
                    f"a version {version} bundle carries a version 1 checkpoint (root = the head "
                    "block's hash); this log signs version 2 checkpoints (its tree head): "
                    "make a version 3 bundle (or 4 or 5, from the chain's registry switch)"
                )
            if head.map_root is None:
                raise ProveError(f"the checkpoint's head (block {head.height}) has no head map")
            if self._switched is None:
                self._switched = registry_switched(self.chain, head.height)
            switched = self._switched
            if version in (BUNDLE_VERSION_4, BUNDLE_VERSION_5) and not switched:
                raise ProveError(
                    f"the checkpoint's head (block {head.height}) is before the chain's registry "
                    "switch: its map holds no parties or devices, so only version 3 can be made"
                )
            return version or (BUNDLE_VERSION_5 if switched else BUNDLE_VERSION_3)
        if version is None:
            return BUNDLE_VERSION_2 if head.map_root is not None else BUNDLE_VERSION
        if version in (BUNDLE_VERSION_3, BUNDLE_VERSION_4, BUNDLE_VERSION_5):
            raise ProveError(
                f"a version {version} bundle carries a version 2 checkpoint (the log's tree head); "
                "this checkpoint signs the head block's hash (version 1)"
            )
        if version == BUNDLE_VERSION_2 and head.map_root is None:
            raise ProveError(
                f"the checkpoint's head (block {head.height}) has no head map: it is a "
                "version 1 block, so only a version 1 bundle can be made"
            )
        if version not in (BUNDLE_VERSION, BUNDLE_VERSION_2):
            raise ProveError(f"no bundle format version {version}")
        return version

    def head_proof(self) -> list[str]:
        """RFC 9162 inclusion proof of the head block (leaf n-1) in the n-block tree head."""
        head = self.head
        assert head is not None
        return [p.hex() for p in self.tree.inclusion_proof(head.height, head.height + 1)]

    def prove_absence(self, item_id: str, version: int | None = None) -> dict[str, Any]:
        """The absence bundle of an id (:func:`anchoring.prove_head.absence_bundle`)."""
        from anchoring.prove_head import absence_bundle  # it builds on this module

        return absence_bundle(self, item_id, version)

    def newer(self, item_id: str, height: int, version: int | None = None) -> dict[str, Any]:
        """The ``newer`` object for a bundle whose head is block ``height``
        (:func:`anchoring.prove_head.newer_object`)."""
        from anchoring.prove_head import newer_object  # it builds on this module

        return newer_object(self, item_id, height, version)

    def map_proof(
        self, item_id: str, height: int, version: int, *, absent: bool = False
    ) -> tuple[MapEntry | None, dict[str, Any]]:
        try:
            entry, proof = self.chain.map_proof_at(item_key(item_id), height)
        except LookupError as e:
            raise ProveError(f"the head map cannot be read: {e}") from None
        if absent != (entry is None):
            state = "has an entry" if entry is not None else "has no entry"
            raise ProveError(f"{item_id!r} {state} in the head map of block {height}")
        return entry, proof_json_v5(proof) if version >= COMPACT_VERSION else proof_json(proof)

    def _event_entry(
        self,
        item_id: str,
        event: Any,
        row: LeafRow,
        header: BlockHeader,
        tree: bytes,
        prev: bytes,
        devices: dict[str, dict[str, Any]],
    ) -> dict[str, Any]:
        record = item_record(event, item_id, row.version)
        source = record.leaf_source()
        evidence = record.evidence
        return {
            "version": row.version,
            "leaf_kind": source.kind,
            "payload_b64": _b64(source.payload),
            "evidence_b64": _b64(evidence) if evidence is not None else None,
            "prev_leaf": prev.hex(),
            "leaf": row.leaf_hash.hex(),
            "height": row.height,
            "leaf_index": row.leaf_index,
            "path": packed_path(tree, header.leaf_count, row.leaf_index),
            "summary": self._summary(event, devices),
        }

    def _trees(self, heights: set[int] | list[int]) -> dict[int, tuple[BlockHeader, bytes]]:
        out = {}
        for height, row in self.chain.block_rows(heights).items():
            header = self._headers.get(height)
            if header is None:
                header = self._headers[height] = header_from_row(row.header_json)
                if len(self._headers) > HEADER_CACHE:
                    self._headers.popitem(last=False)
            out[height] = (header, row.tree)
        return out

    def _block_entry(self, header: BlockHeader, head: BlockHeader) -> dict[str, Any]:
        proof: list[bytes] = []
        if header.height < head.height:
            proof = self.tree.inclusion_proof(header.height, head.acc_size)
        return {"header": header.to_json(), "acc_proof": [p.hex() for p in proof]}

    def _summary(self, event: Any, devices: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """What the event says, read from the signed bytes (as the verifier will)."""
        record = item_record(event)
        source = record.leaf_source()
        statement = getattr(event, "statement", None)
        if statement is not None:  # signed by an owner key (anchoring/verify_owner.py)
            return owner_summary(statement)
        if source.kind == "E":
            return _fields_of(self._signed(source.payload, devices))
        flag = json.loads(source.payload)
        evidence = record.evidence
        body = self._signed(evidence, devices) if evidence is not None else None
        return flag_summary(flag, body)

    def _signed(
        self, envelope_bytes: bytes, devices: dict[str, dict[str, Any]]
    ) -> dict[str, Any] | None:
        try:
            envelope, body = read_signed(envelope_bytes)
        except SerializationError:
            return None
        name = f"{envelope.party_id}/{envelope.device_id}"
        if name not in self._devices:
            self._devices[name] = self._device(envelope.party_id, envelope.device_id)
        entry = self._devices[name]
        if entry is not None:
            devices[name] = dict(entry)  # the caller may edit its bundle
        return body

    def _device(self, party_id: str, device_id: str) -> dict[str, Any] | None:
        try:
            party = self.ledger.get_party(party_id)
        except UnknownParty:
            return None
        device = party.devices.get(device_id)
        if device is None:
            return None
        return {"public_key": device.public_key, "party_name": party.name, "role": party.role.value}


def write_bundle(bundle: dict[str, Any]) -> str:
    """The bundle as strict JSON text (docs/proof-bundle.md §2.1), to be written as UTF-8."""
    return strictjson.dumps(bundle, indent=2) + "\n"


def _fields_of(body: dict[str, Any] | None) -> dict[str, Any]:
    return signed_fields(body) if body is not None else {}


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _read_note(note: str) -> tuple[Checkpoint, dict[str, str]]:
    """The checkpoint a note claims, and the name and key id of the log's line, to tell a
    verifier which key to pin: the line named as the checkpoint's origin (witnesses'
    cosignature lines are named after the witnesses), else the first. Unverified: this is
    the prover's own file, and verifiers check the signature."""
    try:
        body, lines = split_note(note)
        checkpoint = Checkpoint.parse_body(body)
    except VerificationError as e:
        raise ProveError(f"the checkpoint cannot be read: {e}") from None
    name, key_id, _ = next((line for line in lines if line[0] == checkpoint.origin), lines[0])
    return checkpoint, {"name": name, "key_id": key_id.hex()}
