"""The log's side of C2SP tlog-witness: ask every witness at once, within one deadline.

    >>> client = WitnessClient([WitnessEndpoint("w1", "http://127.0.0.1:1")], timeout=0.5)
    >>> result = client.add_checkpoint(note, size, proof)        # doctest: +SKIP
    >>> cosigned = merge_signatures(note, result.lines)          # doctest: +SKIP

:meth:`WitnessClient.add_checkpoint` posts the checkpoint to every witness in parallel
and returns after at most ``timeout`` seconds with the lines it got and one
:class:`WitnessOutcome` per witness: a witness that is down or slow costs the timeout,
never more, and never fails the call. The client remembers the size each witness last
cosigned; when a witness answers 409 with another size (it restarted, missed
checkpoints, or this client is new) the client sends again with that ``old`` size and
``proof(old, size)`` — that is how a witness that was down catches up.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from urllib.parse import urlsplit

from witness.cosignature import WitnessVerifier
from witness.errors import CosignatureError, NoteError
from witness.note import TreeHead, merge_signatures, parse_note
from witness.policy import Policy
from witness.protocol import (
    ADD_CHECKPOINT_PATH,
    AddCheckpoint,
    ProtocolError,
    parse_cosignature_lines,
    parse_size,
)

__all__ = [
    "Collection",
    "ProofFunction",
    "WitnessClient",
    "WitnessEndpoint",
    "WitnessOutcome",
    "endpoints_from_policy",
    "merge_signatures",
]

#: ``proof(old_size, new_size)``: the RFC 6962 consistency proof between two sizes.
ProofFunction = Callable[[int, int], Sequence[bytes]]
#: A 409 is answered by resending; a witness that keeps moving is given up on after this.
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness to ask: a name for reports, its submission prefix URL, and its key.

    With ``verifier`` set, only lines by that key that verify over the checkpoint are
    kept; without it, whatever signature lines the witness returns are passed on.
    """

    name: str
    url: str
    verifier: WitnessVerifier | None = None


@dataclass(frozen=True)
class WitnessOutcome:
    """What one witness did with one checkpoint.

    ``witness_size`` is the size the witness last cosigned as far as the client knows;
    ``resent`` counts the 409s answered by sending again from the witness's size.
    ``status``: ``cosigned``; ``refused`` (an HTTP error of the protocol: 403, 404, 422,
    ...); ``ahead`` (it cosigned a larger size than this checkpoint's); ``timeout``;
    ``unreachable`` (connection failed); ``invalid_response``; ``proof_unavailable``
    (``proof`` raised for the size the witness asked from).
    """

    name: str
    status: str
    http_status: int | None
    lines: tuple[str, ...]
    witness_size: int | None
    detail: str
    resent: int = 0


@dataclass(frozen=True)
class Collection:
    """All cosignature lines gathered for one checkpoint, and every witness's outcome."""

    lines: tuple[str, ...]
    outcomes: tuple[WitnessOutcome, ...]

    @property
    def cosigned_by(self) -> list[str]:
        return [o.name for o in self.outcomes if o.status == "cosigned"]


def endpoints_from_policy(policy: Policy) -> list[WitnessEndpoint]:
    """One endpoint per policy witness that has a URL, pinned to the witness's vkey."""
    return [WitnessEndpoint(w.name, w.url, w.verifier) for w in policy.witnesses.values() if w.url]


class WitnessClient:
    """Keeps one keep-alive connection and the last known size per witness; thread-safe."""

    def __init__(self, witnesses: Sequence[WitnessEndpoint], *, timeout: float = 5.0) -> None:
        if len({w.name for w in witnesses}) != len(witnesses):
            raise ValueError("witness names must be unique")
        self.timeout = timeout
        self._links = [_Link(w) for w in witnesses]
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, len(witnesses)), thread_name_prefix="witness-client"
        )

    def known_sizes(self) -> dict[str, int]:
        """The size each witness last cosigned, as far as this client knows."""
        return {link.endpoint.name: link.size for link in self._links}

    def add_checkpoint(self, note: str, size: int, proof: ProofFunction) -> Collection:
        """Send ``note`` (of tree size ``size``) to every witness; wait at most ``timeout``."""
        body = parse_note(note).text
        if TreeHead.parse(body).size != size:
            raise ValueError(f"the note is not of size {size}")
        deadline = time.monotonic() + self.timeout
        futures: list[Future[WitnessOutcome]] = [
            self._pool.submit(link.submit, note, body, size, proof, deadline)
            for link in self._links
        ]
        wait(futures, timeout=max(0.0, deadline - time.monotonic()) + 0.05)
        outcomes = []
        for link, future in zip(self._links, futures, strict=True):
            if future.done() and not future.cancelled():
                outcomes.append(future.result())
            else:
                future.cancel()
                outcomes.append(_outcome(link, "timeout", None, "no answer before the deadline"))
        lines = tuple(line for o in outcomes for line in o.lines)
        return Collection(lines, tuple(outcomes))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        for link in self._links:
            link.close()

    def __enter__(self) -> WitnessClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Link:
    """One witness: its connection, the size it last cosigned, one request at a time."""

    def __init__(self, endpoint: WitnessEndpoint) -> None:
        parts = urlsplit(endpoint.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"witness {endpoint.name}: {endpoint.url!r} is not an http(s) URL")
        self.endpoint = endpoint
        self.size = 0
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._path = parts.path.rstrip("/") + ADD_CHECKPOINT_PATH
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None

    def submit(
        self, note: str, body: str, size: int, proof: ProofFunction, deadline: float
    ) -> WitnessOutcome:
        if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return _outcome(self, "timeout", None, "still busy with an earlier checkpoint")
        try:
            return self._submit(note, body, size, proof, deadline)
        finally:
            self._lock.release()

    def _submit(
        self, note: str, body: str, size: int, proof: ProofFunction, deadline: float
    ) -> WitnessOutcome:
        old = min(self.size, size)
        for attempt in range(MAX_ATTEMPTS):
            try:
                nodes = tuple(proof(old, size)) if 0 < old < size else ()
            except Exception as e:  # the caller's proof source: report it, never raise
                return _outcome(self, "proof_unavailable", None, f"proof({old}, {size}): {e}")
            request = AddCheckpoint(old, nodes, note).encode()
            try:
                status, content_type, reply = self._post(request, deadline)
            except TimeoutError:
                return _outcome(self, "timeout", None, "no answer before the deadline")
            except (OSError, http.client.HTTPException) as e:
                return _outcome(self, "unreachable", None, f"{type(e).__name__}: {e}")
            if status == 200:
                return self._cosigned(body, size, reply, attempt)
            if status != 409:
                detail = reply[:200].decode("utf-8", "replace").strip()
                return _outcome(self, "refused", status, detail)
            try:
                self.size = parse_size(reply)
            except ProtocolError as e:
                return _outcome(self, "invalid_response", 409, f"{content_type}: {e}")
            if self.size > size:
                return _outcome(self, "ahead", 409, f"it cosigned size {self.size} > {size}")
            old = self.size
        return _outcome(self, "refused", 409, f"size still changing after {MAX_ATTEMPTS} tries")

    def _cosigned(self, body: str, size: int, reply: bytes, resent: int) -> WitnessOutcome:
        try:
            lines = parse_cosignature_lines(reply)
        except ProtocolError as e:
            return _outcome(self, "invalid_response", 200, str(e))
        verifier = self.endpoint.verifier
        if verifier is not None:
            lines = [line for line in lines if _verifies(verifier, body, line)]
            if not lines:
                return _outcome(self, "invalid_response", 200, "no valid cosignature by its key")
        self.size = size
        return WitnessOutcome(self.endpoint.name, "cosigned", 200, tuple(lines), size, "", resent)

    def _post(self, request: bytes, deadline: float) -> tuple[int, str, bytes]:
        reused = self._connection is not None
        try:
            return self._post_once(request, deadline)
        except (ConnectionError, http.client.RemoteDisconnected):
            if not reused:
                raise
        # The witness closed an idle keep-alive connection (or restarted): one fresh try.
        return self._post_once(request, deadline)

    def _post_once(self, request: bytes, deadline: float) -> tuple[int, str, bytes]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        connection = self._connect(remaining)
        try:
            connection.request(
                "POST", self._path, request, {"Content-Type": "text/plain; charset=utf-8"}
            )
            response = connection.getresponse()
            reply = response.read(1 << 16)
            declared = response.getheader("Content-Length", "")
            if declared.isdigit() and len(reply) < min(int(declared), 1 << 16):
                # read(n) returns what arrived when the witness dies mid-answer.
                raise http.client.IncompleteRead(reply, int(declared) - len(reply))
        except BaseException:
            self.close()  # a half-used connection cannot carry the next request
            raise
        if response.will_close:
            self.close()
        return response.status, response.getheader("Content-Type", ""), reply

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._connection = kind(self._host, self._port, timeout=timeout)
        else:
            self._connection.timeout = timeout
            if self._connection.sock is not None:
                self._connection.sock.settimeout(timeout)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _verifies(verifier: WitnessVerifier, body: str, line: str) -> bool:
    try:
        verifier.verify(body, line)
    except (CosignatureError, NoteError):
        return False
    return True


def _outcome(link: _Link, status: str, http_status: int | None, detail: str) -> WitnessOutcome:
    return WitnessOutcome(link.endpoint.name, status, http_status, (), link.size, detail)
