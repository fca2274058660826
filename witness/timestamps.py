"""Public timestamps of checkpoints: OpenTimestamps proofs, made, upgraded and verified.

The ``.ots`` file is OpenTimestamps' own detached-timestamp format (python-opentimestamps
reads and writes it; ``ots verify`` from opentimestamps-client accepts it): the SHA-256
of the stamped bytes, then operations leading to attestations. Right after
:func:`stamp` the attestations are *pending* (a calendar promises to commit the digest
to Bitcoin); :func:`upgrade` later asks the calendars for the completed path, which ends
in a Bitcoin block header's Merkle root; :func:`verify` then checks, offline, that the
path from these bytes reaches the Merkle root of the 80-byte block header given.

Calendars speak the OpenTimestamps calendar HTTP API: ``POST <url>/digest`` with the raw
digest returns a serialized timestamp; ``GET <url>/timestamp/<hex commitment>`` returns
the completed one, or 404 while pending. Only the calendars configured by the caller are
ever contacted, whatever URLs a file's pending attestations name.

    >>> proof = stamp(checkpoint_bytes, ["https://a.pool.opentimestamps.org"])  # doctest: +SKIP
    >>> result = upgrade(proof.ots, calendars)                                  # doctest: +SKIP
    >>> verify(result.ots, checkpoint_bytes, bytes.fromhex(header_hex))          # doctest: +SKIP
    VerifiedTimestamp(height=..., block_time=..., block_hash='...')
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bitcoin.core import CBlockHeader, b2lx
from opentimestamps.calendar import CommitmentNotFoundError, RemoteCalendar
from opentimestamps.core.notary import (
    BitcoinBlockHeaderAttestation,
    PendingAttestation,
    VerificationError,
)
from opentimestamps.core.op import OpSHA256
from opentimestamps.core.serialize import (
    BytesDeserializationContext,
    BytesSerializationContext,
)
from opentimestamps.core.timestamp import DetachedTimestampFile, Timestamp

from witness.errors import TimestampError

OTS_SUFFIX = ".ots"
HEADER_SIZE = 80
USER_AGENT = "assay-ots"


@dataclass(frozen=True)
class StampResult:
    """A new ``.ots`` file and which calendars took the digest (failures: url → reason)."""

    ots: bytes
    calendars: tuple[str, ...]
    failures: dict[str, str]


@dataclass(frozen=True)
class UpgradeResult:
    """The ``.ots`` after upgrading; ``complete`` once a Bitcoin attestation is in it."""

    ots: bytes
    changed: bool
    complete: bool
    pending: tuple[str, ...]
    failures: dict[str, str]


@dataclass(frozen=True)
class VerifiedTimestamp:
    """The data existed before this block: its height (as attested), time and hash."""

    height: int
    block_time: int
    block_hash: str


def stamp(data: bytes, calendars: Sequence[str], *, timeout: float = 10.0) -> StampResult:
    """Submit SHA-256(``data``) to every calendar in parallel; merge what they return.

    Raises ``TimestampError("ots_submit")`` if no calendar accepted the digest.
    """
    digest = hashlib.sha256(data).digest()
    detached = DetachedTimestampFile(OpSHA256(), Timestamp(digest))
    accepted, failures = [], {}

    def submit(url: str) -> Any:
        return RemoteCalendar(url, user_agent=USER_AGENT).submit(digest, timeout=timeout)

    with ThreadPoolExecutor(max_workers=max(1, len(calendars))) as pool:
        futures = {url: pool.submit(submit, url) for url in calendars}
        for url, future in futures.items():
            try:
                detached.timestamp.merge(future.result())
                accepted.append(url)
            except Exception as e:  # any calendar failure is reported, never raised alone
                failures[url] = f"{type(e).__name__}: {e}"
    if not accepted:
        raise TimestampError("ots_submit", f"no calendar accepted the digest: {failures}")
    return StampResult(_serialize(detached), tuple(accepted), failures)


def upgrade(ots: bytes, calendars: Sequence[str], *, timeout: float = 10.0) -> UpgradeResult:
    """Ask the calendars for the completed paths of the pending attestations.

    A pending attestation whose calendar is not in ``calendars`` is left alone (and
    listed in ``failures``); one that completed into a Bitcoin attestation is removed.
    """
    detached = _parse(ots)
    allowed = {url.rstrip("/") for url in calendars}
    changed, failures = False, {}
    for node, attestation in list(_pending(detached.timestamp)):
        uri = attestation.uri.rstrip("/")
        if uri not in allowed:
            failures[attestation.uri] = "not a configured calendar: not contacted"
            continue
        calendar = RemoteCalendar(attestation.uri, user_agent=USER_AGENT)
        try:
            upgraded = calendar.get_timestamp(node.msg, timeout=timeout)
        except CommitmentNotFoundError as e:
            failures[attestation.uri] = f"pending: {e.reason}"
            continue
        except Exception as e:  # an unreachable or broken calendar: report, keep pending
            failures[attestation.uri] = f"{type(e).__name__}: {e}"
            continue
        if not _has_bitcoin(upgraded):
            failures[attestation.uri] = "calendar answered without a Bitcoin attestation"
            continue
        node.merge(upgraded)
        node.attestations.discard(attestation)
        changed = True
    pending = tuple(sorted({a.uri for _, a in _pending(detached.timestamp)}))
    return UpgradeResult(
        _serialize(detached), changed, _has_bitcoin(detached.timestamp), pending, failures
    )


def verify(ots: bytes, data: bytes, block_header: bytes) -> VerifiedTimestamp:
    """Check offline that ``ots`` timestamps ``data`` into the given Bitcoin block header.

    ``block_header`` is the raw 80-byte header (from a node or explorers you trust: this
    function checks the commitment, not that the block is in the best chain).
    Raises :class:`TimestampError`: ``ots_format``, ``ots_digest``, ``ots_pending`` (no
    Bitcoin attestation yet) or ``ots_header`` (none commits to this header).
    """
    detached = _parse(ots)
    if detached.file_digest != hashlib.sha256(data).digest():
        raise TimestampError("ots_digest", "the .ots file timestamps other bytes than these")
    if len(block_header) != HEADER_SIZE:
        raise TimestampError("ots_format", f"a block header is {HEADER_SIZE} bytes")
    try:
        header = CBlockHeader.deserialize(block_header)
    except Exception as e:
        raise TimestampError("ots_format", f"block header: {e}") from None
    attested = [
        (msg, a)
        for msg, a in detached.timestamp.all_attestations()
        if isinstance(a, BitcoinBlockHeaderAttestation)
    ]
    if not attested:
        raise TimestampError("ots_pending", "no Bitcoin attestation yet: upgrade it later")
    for msg, attestation in attested:
        try:
            block_time = attestation.verify_against_blockheader(msg, header)
        except VerificationError:
            continue
        return VerifiedTimestamp(attestation.height, int(block_time), b2lx(header.GetHash()))
    heights = sorted({a.height for _, a in attested})
    raise TimestampError(
        "ots_header",
        f"no attestation commits to block {b2lx(header.GetHash())} (attested heights {heights})",
    )


def stamp_file(path: Path, calendars: Sequence[str], *, timeout: float = 10.0) -> StampResult:
    """Stamp the file's bytes; write ``<path>.ots`` beside it (atomically)."""
    result = stamp(path.read_bytes(), calendars, timeout=timeout)
    write_atomically(ots_path_for(path), result.ots)
    return result


def upgrade_file(
    ots_path: Path, calendars: Sequence[str], *, timeout: float = 10.0
) -> UpgradeResult:
    """Upgrade an ``.ots`` file in place (atomically, only if something changed)."""
    result = upgrade(ots_path.read_bytes(), calendars, timeout=timeout)
    if result.changed:
        write_atomically(ots_path, result.ots)
    return result


def verify_file(ots_path: Path, target: Path, block_header_hex: str) -> VerifiedTimestamp:
    """:func:`verify` for files, the header given as hex (what ``assay ots verify`` takes)."""
    try:
        header = bytes.fromhex(block_header_hex.strip())
    except ValueError:
        raise TimestampError("ots_format", "the block header is not hex") from None
    return verify(ots_path.read_bytes(), target.read_bytes(), header)


def ots_path_for(path: Path) -> Path:
    return path.with_name(path.name + OTS_SUFFIX)


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file, fsync, rename over ``path``, fsync the directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse(ots: bytes) -> DetachedTimestampFile:
    try:
        detached = DetachedTimestampFile.deserialize(BytesDeserializationContext(ots))
    except Exception as e:  # untrusted bytes: any parse failure is a format error
        raise TimestampError("ots_format", f"not an OpenTimestamps proof: {e}") from None
    if not isinstance(detached.file_hash_op, OpSHA256):
        raise TimestampError("ots_format", f"file hash {detached.file_hash_op} is not SHA-256")
    return detached


def _serialize(detached: DetachedTimestampFile) -> bytes:
    ctx = BytesSerializationContext()
    detached.serialize(ctx)
    data: bytes = ctx.getbytes()
    return data


def _pending(timestamp: Timestamp) -> Iterator[tuple[Timestamp, PendingAttestation]]:
    stack = [timestamp]
    while stack:
        node = stack.pop()
        for attestation in node.attestations:
            if isinstance(attestation, PendingAttestation):
                yield node, attestation
        stack.extend(node.ops.values())


def _has_bitcoin(timestamp: Timestamp) -> bool:
    return any(
        isinstance(a, BitcoinBlockHeaderAttestation) for _, a in timestamp.all_attestations()
    )
