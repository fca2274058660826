"""The witness's decision on one ``add-checkpoint`` request (C2SP tlog-witness).

:meth:`Witness.add_checkpoint` takes the raw request body and returns the HTTP reply the
spec prescribes; the HTTP layer (:mod:`witness.server`) only moves bytes. In order:

1. malformed request or note ............................... 400
2. origin not configured .................................... 404
3. no signature by a trusted log key verifies, or one fails . 403
4. signed body is not a checkpoint .......................... 400
5. ``old`` greater than the checkpoint's size ............... 400
6. ``old`` differs from the size last cosigned .............. 409, body ``<size>\\n``
7. size 0 with a root other than SHA-256("") ................ 422
8. same size as the state but another root, a non-empty proof
   where none is possible, or a proof that does not verify .. 422
9. otherwise: state saved, then 200 with the cosignature line

Steps 5-9 run in one state transaction (the compare-and-swap); requests that arrive
together share one transaction and one fsync, decided in their order of arrival.
Whatever the reply, a validly signed checkpoint that contradicts the state is kept as
evidence with the note the witness held: the same size with another root (``fork``), a smaller size
(``rollback``), or a larger one whose proof fails (``unproven``).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from anchoring.accumulator import EMPTY_ROOT, verify_consistency
from anchoring.checkpoint import Verifier
from anchoring.errors import AccumulatorError
from witness.cosignature import WitnessSigner
from witness.errors import NoteError
from witness.note import Note, TreeHead, note_origin, parse_note, parse_signature_line
from witness.protocol import (
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    ProtocolError,
    encode_size,
    parse_add_checkpoint,
)
from witness.state import StateStore, StateTransaction

TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Reply:
    """An HTTP reply of the protocol: status, body, content type."""

    status: int
    body: bytes
    content_type: str = TEXT


class _Refused(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class Witness:
    """Cosigns checkpoints of the configured logs that extend what it cosigned before.

    >>> import tempfile
    >>> from anchoring.checkpoint import Signer
    >>> log = Signer.generate("example.com/log")
    >>> w = Witness(
    ...     WitnessSigner.generate("witness.example/w1"),
    ...     {"example.com/log": [log.verifier()]},
    ...     StateStore(tempfile.mkdtemp()),
    ... )
    >>> w.add_checkpoint(b"old 0\\n\\nexample.com/other\\n0\\n").status
    404
    """

    def __init__(
        self,
        signer: WitnessSigner,
        logs: Mapping[str, Sequence[Verifier]],
        store: StateStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        self.logs = {origin: tuple(keys) for origin, keys in logs.items()}
        self.store = store
        self._clock = clock

    def add_checkpoint(self, body: bytes) -> Reply:
        """The reply to one request body."""
        return self.add_checkpoints([body])[0]

    def add_checkpoints(self, bodies: Sequence[bytes]) -> list[Reply]:
        """Replies to several requests, decided in order and made durable by one commit.

        Each decision sees the state the earlier ones left, exactly as if they had come
        one after the other; none is answered before the commit that holds it.
        """
        replies: list[Reply | None] = []
        opened: list[tuple[int, AddCheckpoint, Note, TreeHead]] = []
        for index, body in enumerate(bodies):
            try:
                request = parse_add_checkpoint(body)
                note, head = self._open(request.note)
            except _Refused as refused:
                replies.append(refused.reply)
            except ProtocolError as e:
                replies.append(_text(400, str(e)))
            else:
                replies.append(None)
                opened.append((index, request, note, head))
        if opened:
            with self.store.transaction() as view:
                for index, request, note, head in opened:
                    replies[index] = self._update(view(head.origin), request, note, head)
        return [reply for reply in replies if reply is not None]

    def _open(self, note_text: str) -> tuple[Note, TreeHead]:
        """Steps 1-4: the note, its trusted signature lines only, and its checkpoint."""
        keys = self.logs.get(note_origin(note_text))
        if keys is None:
            raise _Refused(_text(404, "unknown log origin"))
        try:
            note = parse_note(note_text)
        except NoteError as e:
            raise _Refused(_text(400, str(e))) from None
        message = note.text.encode("utf-8")
        trusted = []
        for line in note.signatures:
            key = next((k for k in keys if k.name == line.name and k.key_id == line.key_id), None)
            if key is None:
                continue  # other keys, witnesses' lines: ignored, as the spec says
            if not key.verify(message, line.signature):
                raise _Refused(_text(403, f"signature by {line.name} does not verify"))
            trusted.append(line)
        if not trusted:
            raise _Refused(_text(403, "no signature by a trusted key of this log"))
        try:
            head = TreeHead.parse(note.text)
        except NoteError as e:
            raise _Refused(_text(400, str(e))) from None
        return Note(note.text, tuple(trusted)), head

    def _update(
        self, txn: StateTransaction, request: AddCheckpoint, note: Note, head: TreeHead
    ) -> Reply:
        """Steps 5-9 inside the state transaction."""
        state = txn.state
        held = state.size if state else 0
        now = int(self._clock())
        if state is not None:
            kind = _contradiction(state.size, state.root_hash, head)
            if kind is not None:
                detail = f"holds size {state.size}, offered size {head.size}"
                txn.record_evidence(kind, state.note, request.note, detail, now)
        if request.old_size > head.size:
            return _text(400, f"old size {request.old_size} > checkpoint size {head.size}")
        if request.old_size != held:
            return Reply(409, encode_size(held), SIZE_CONTENT_TYPE)
        if head.size == 0 and not hmac.compare_digest(head.root_hash, EMPTY_ROOT):
            return _text(422, "a size-0 checkpoint must have the empty tree's root")
        if request.old_size == 0:
            if request.proof:
                return _text(422, "the proof from size 0 must be empty")
        else:
            assert state is not None  # held != 0
            try:
                verify_consistency(
                    held, head.size, state.root_hash, head.root_hash, list(request.proof)
                )
            except AccumulatorError as e:
                if head.size > held:
                    detail = f"proof from size {held} to {head.size} fails: {e}"
                    txn.record_evidence("unproven", state.note, request.note, detail, now)
                return _text(422, f"consistency: {e}")
        line = self.signer.cosign(head.body(), max(now, 1))
        cosigned = Note(note.text, (*note.signatures, parse_signature_line(line)))
        txn.save(head.size, head.root_hash, cosigned.to_text(), now)
        return Reply(200, line.encode("utf-8"))


def _contradiction(size: int, root_hash: bytes, head: TreeHead) -> str | None:
    if head.size < size:
        return "rollback"
    if head.size == size and not hmac.compare_digest(head.root_hash, root_hash):
        return "fork"
    return None


def _text(status: int, message: str) -> Reply:
    return Reply(status, (message + "\n").encode("utf-8"))
