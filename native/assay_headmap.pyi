"""Native core of the head map; use it through anchoring.headmap_native.HeadMap."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

class _Entry(Protocol):
    @property
    def version(self) -> int: ...
    @property
    def leaf(self) -> bytes: ...
    @property
    def height(self) -> int: ...
    @property
    def leaf_index(self) -> int: ...

class _Row(Protocol):
    @property
    def path(self) -> bytes: ...
    @property
    def hash(self) -> bytes: ...
    @property
    def leaf_key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...

class Rows:
    def __len__(self) -> int: ...
    def materialize(self, row_cls: Any) -> list[Any]: ...
    def params(self, height: int) -> list[tuple[bytes, int, bytes, bytes | None, bytes | None]]: ...

class Core:
    height: int
    def __init__(self) -> None: ...
    @property
    def root(self) -> bytes: ...
    @property
    def size(self) -> int: ...
    def get(self, key: bytes) -> bytes | None: ...
    def update(self, changes: Mapping[bytes, _Entry | bytes], height: int) -> Rows: ...
    def apply(self, changes: Mapping[bytes, _Entry | bytes], height: int) -> None: ...
    def head_row(self, row_cls: Any) -> Any: ...
    def rollback(self) -> None: ...
    def commit(self) -> None: ...
    def node(self, path: bytes) -> tuple[bytes, bytes | None, bytes | None] | None: ...
    def prove(
        self, key: bytes
    ) -> tuple[bytes | None, list[bytes | None], bytes | None, bytes | None]: ...
    def rows(self, row_cls: Any) -> list[Any]: ...
    @staticmethod
    def from_rows(rows: Iterable[_Row]) -> Core: ...

class Ed25519Key:
    """A public key as a curve point; the Ed25519 equation only (streams/ed25519.py)."""

    def __init__(self, raw: bytes) -> None: ...
    def verify(self, message: bytes, signature: bytes) -> bool: ...

class Ed25519Batch:
    """``Ed25519Key(key).verify(message, signature)`` of each triple, on ``threads``
    threads of its own without the GIL (streams/ed25519.py's start_verifying)."""

    def __init__(
        self, keys: list[bytes], messages: list[bytes], signatures: list[bytes], threads: int
    ) -> None: ...
    def wait(self) -> bytes:
        """One byte per signature, 1 where it verifies; verifies what is left on the
        calling thread too (without the GIL), then joins the threads."""

def ed25519_threads() -> tuple[int, int, int]:
    """(verifier threads this process has started, the most it will start, offers waiting
    for a thread) (native/src/verify_pool.rs)."""

def strict_json(data: bytes, max_depth: int, max_safe: int) -> tuple[Any] | None:
    """``(value,)`` of a plainly strict JSON text; None: read it the careful way
    (anchoring/strictjson.py)."""

def staged_csv(
    rows: list[tuple[int, str, str, int, bytes]],
    columns: list[tuple[list[tuple[str, ...]], str]],
    max_line: int,
) -> bytes | None:
    """Stored records as CSV lines (n, topic, originator id, version, then ``columns``:
    each read from one of its paths into the state, of kind text, number, texts or
    object); None: stage the page as JSON lines (projections/staging.py)."""

class _Source(Protocol):
    @property
    def item_id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def payload(self) -> bytes: ...

def leaf_chain(
    sources: Iterable[_Source],
    prev_leaf: Callable[[str, int], bytes],
    prefix: bytes,
    kinds: dict[str, bytes],
) -> list[bytes]:
    """A block's leaves (anchoring/leaves.py's leaf_chain)."""

def pack_levels(leaves: bytes, node_prefix: bytes) -> bytes:
    """Every level of a block's tree (anchoring/merkle.py's pack_tree)."""

def enter_leaves(
    core: Core,
    sources: Iterable[_Source] | Iterable[tuple[str, int]],
    leaves: Iterable[bytes],
    height: int,
    tag: bytes,
    others: Mapping[bytes, _Entry | bytes],
) -> list[tuple[bytes, bytes]]:
    """A block's leaves entered in the map (anchoring/headmap_native.py); the changed
    entries in key order."""

def band_rows(
    core: Core, keys: Iterable[bytes] | None
) -> list[tuple[int, bytes | None, bytes | None, bytes | None]]:
    """``(band id, hash or None, single key or None, its value or None)`` of the band nodes
    over ``keys`` (None: all), sorted by id (native/src/bands.rs)."""

def entries(core: Core) -> list[tuple[bytes, bytes]]:
    """Every entry of the map as ``(key, value)``, in key order."""

class BodyReader:
    """A one-pass reader of canonically encoded Avro bodies (streams/avro_native.py)."""

    def __init__(
        self,
        fields: list[tuple[str, int]],
        added: list[tuple[str, Any]],
        codes: Mapping[str, int],
        datetime: type,
        utc: object,
    ) -> None: ...
    @property
    def fields(self) -> list[str]: ...
    def __call__(self, message: bytes, position: int) -> dict[str, Any] | None: ...

class MessageReader:
    """The body readers of one schema's writers by fingerprint (streams/avro_native.py)."""

    def __init__(self, magic: bytes, readers: Mapping[bytes, BodyReader]) -> None: ...
    def __call__(self, message: bytes) -> dict[str, Any] | None: ...

class StateSpeller:
    """A stored event's state as the ledger's transcoder spells it (ledger/transcodings.py,
    native/src/statejson.rs)."""

    def __init__(
        self,
        custody_type: type,
        datetime_type: type,
        utc: object,
        heads: tuple[str, str, str],
        members: list[tuple[str, str]],
        quiet: list[str],
    ) -> None: ...
    def __call__(self, state: dict[str, Any], left_out: tuple[str, ...]) -> bytes | None: ...

class SignedStateReader:
    """A signed item record's stored state split into its timestamp's text, its envelope
    and the envelope's fields (anchoring/audit_read.py, native/src/signedstate.rs)."""

    def __init__(
        self,
        head: bytes,
        envelope_member: bytes,
        tail: bytes,
        marker: bytes,
        transcoded: int,
        envelope_header: bytes,
    ) -> None: ...
    def __call__(self, state: bytes) -> tuple[str, bytes, str, str, bytes, bytes] | None: ...

class RecordsHasher:
    """A running records digest (anchoring/records_digest.py, native/src/recordsdigest.rs)."""

    def __init__(self, domain: bytes) -> None: ...
    def update(self, record: object) -> bool: ...
    def update_bytes(self, data: bytes) -> None: ...
    def hexdigest(self) -> str: ...

def plain_path_root(
    leaf: object, index: object, leaf_count: object, path: object, node_prefix: bytes
) -> bytes | None:
    """``anchoring.merkle._plain_path_root`` for a prefix hasher, or None: the Python path
    decides (native/src/verifyplain.rs)."""

def plain_acc_root(
    block_hash: object,
    index: object,
    size: object,
    proof: object,
    leaf_prefix: bytes,
    node_prefix: bytes,
) -> bytes | None:
    """The accumulator root a plainly spelled proof of ``block_hash`` at ``index`` of
    ``size`` leads to, or None: the Python path decides (native/src/verifyplain.rs)."""

class HeaderReader:
    """A JSON block header as ``anchoring.header.plain_json_block_hash`` reads it
    (native/src/verifyplain.rs)."""

    def __init__(
        self,
        magic: str,
        map_magic: str,
        names: list[str],
        map_names: list[str],
        version: int,
        map_version: int,
        genesis_prev: bytes,
        empty_root: bytes,
        max_int: int,
    ) -> None: ...
    def read(
        self, data: object
    ) -> tuple[int, int, bytes, bytes, int, bytes, int, bytes | None, str] | None: ...

def plain_envelope_fields(message: object, header: bytes) -> tuple[str, str, bytes, bytes] | None:
    """``anchoring.fastread.plain_envelope``'s fields, or None: the Python reader decides
    (native/src/verifybody.rs)."""

class SummaryReader:
    """``anchoring.fastread.plain_summary`` over its plans (native/src/verifybody.rs)."""

    def __init__(
        self,
        plans: Mapping[bytes, tuple[list[tuple[str, str]], list[str]]],
        header_len: int,
        sorted_maps: list[str],
        shown_time: str,
        micros: tuple[int, int],
    ) -> None: ...
    def read(self, message: object) -> tuple[dict[str, Any], bool] | None: ...

class ItemChain:
    """Each item's last leaf and version, and its next leaf (anchoring/audit_leaves.py,
    native/src/itemchain.rs): ``leaf`` answers None (nothing changed) for what it declines."""

    def __init__(self, prefix: bytes, kinds: dict[str, bytes]) -> None: ...
    def leaf(
        self, item_id: object, version: object, kind: object, payload: object
    ) -> bytes | None: ...
    def last(self, item: bytes) -> bytes: ...
    def set(self, item: bytes, last: bytes) -> None: ...
    def __len__(self) -> int: ...

def kafka_records(
    buffer: bytes,
    count: int,
    base_offset: int,
    first_timestamp: int,
    append_time: int | None,
    make: Callable[..., Any],
    prefix: tuple[str, int, int],
    timestamp_type: int,
) -> tuple[list[Any], list[int]] | None:
    """The records of a decompressed Kafka v2 batch made by ``make`` and their sizes, or
    None: kafka-python reads the batch (native/src/kafkarecords.rs)."""
