"""Witness policies (C2SP tlog-policy, sigsum's format with vkeys) and quorum evaluation.

A policy names the logs and witnesses a verifier trusts and the quorum of cosignatures
it requires::

    log example.com/log+1a2b3c4d+AT...       # Ed25519 signed-note vkey (0x01); optional URL
    witness X1 w1.example/w+5e6f7a8b+BA...  [https://w1.example/]   # cosignature/v1 (0x04)
    witness X2 ...
    witness X3 ...
    group partners 2 X1 X2 X3               # k of n; also `all` and `any`
    quorum partners                          # a group, a witness, or `none`

Rules (C2SP tlog-policy, which sigsum's policy.md became): ``#`` comments and blank lines
are ignored; fields are separated by spaces and tabs; only tab, newline, 0x20-0x7E and
non-ASCII are allowed; names are defined once (witnesses and groups share one namespace,
``none`` is predefined); a group refers only to names defined above it, lists at least
one member, ``1 <= k <= n``; a name is a member of at most one group; no two logs or two
witnesses share a public key; exactly one ``quorum`` line.

Deviations from sigsum's own parser, all from C2SP tlog-policy: keys are vkeys rather than
raw hex; a witness vkey must be ``cosignature/v1`` (type 0x04) and a log vkey Ed25519
(type 0x01) whose key name is the log's origin. The file must be UTF-8.

:func:`evaluate` checks one cosigned checkpoint note against a policy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from anchoring.checkpoint import Verifier
from anchoring.errors import KeyFileError, VerificationError
from witness.cosignature import FUTURE_TOLERANCE_SECONDS, WitnessVerifier, check_cosignature
from witness.errors import CosignatureError, NoteError, PolicyError
from witness.note import Note, TreeHead, parse_note

NONE = "none"
#: C2SP tlog-policy asks implementations to support at least 32 of each.
MAX_ENTRIES = 256

_FIELD_SPLIT = re.compile(r"[ \t]+")
_BAD_CHARS = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_DECIMAL = re.compile(r"[1-9][0-9]{0,5}")


@dataclass(frozen=True)
class PolicyWitness:
    name: str
    verifier: WitnessVerifier
    url: str | None = None


@dataclass(frozen=True)
class PolicyLog:
    verifier: Verifier
    url: str | None = None


@dataclass(frozen=True)
class Group:
    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """A parsed policy. ``quorum`` is a witness name, a group name, or ``none``."""

    logs: tuple[PolicyLog, ...]
    witnesses: Mapping[str, PolicyWitness]
    groups: Mapping[str, Group]
    quorum: str


def parse_policy(text: str) -> Policy:
    """Parse a policy file's text; :class:`PolicyError` (``witness_policy``) names the line."""
    logs: list[PolicyLog] = []
    witnesses: dict[str, PolicyWitness] = {}
    groups: dict[str, Group] = {NONE: Group(NONE, 0, ())}
    member_of: dict[str, str] = {}
    quorum: str | None = None
    for number, raw in enumerate(text.split("\n"), 1):
        bad = _BAD_CHARS.search(raw)
        if bad:
            raise PolicyError(f"character {ord(bad.group()):#04x} is not allowed", number)
        fields = [f for f in _FIELD_SPLIT.split(raw) if f]
        if not fields or fields[0].startswith("#"):
            continue
        keyword, args = fields[0], fields[1:]
        if len(logs) + len(witnesses) + len(groups) > MAX_ENTRIES:
            raise PolicyError(f"more than {MAX_ENTRIES} logs, witnesses and groups", number)
        if keyword == "log":
            logs.append(_log(args, logs, number))
        elif keyword == "witness":
            witness = _witness(args, witnesses, groups, number)
            witnesses[witness.name] = witness
        elif keyword == "group":
            group = _group(args, witnesses, groups, member_of, number)
            groups[group.name] = group
        elif keyword == "quorum":
            if quorum is not None:
                raise PolicyError("a policy has exactly one quorum line", number)
            if len(args) != 1:
                raise PolicyError("quorum takes one name", number)
            if args[0] not in witnesses and args[0] not in groups:
                raise PolicyError(f"quorum {args[0]!r} is not defined above", number)
            quorum = args[0]
        else:
            raise PolicyError(f"unknown keyword {keyword!r}", number)
    if quorum is None:
        raise PolicyError("the policy has no quorum line")
    del groups[NONE]
    return Policy(tuple(logs), witnesses, groups, quorum)


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and parse a policy file; unreadable or non-UTF-8 files are ``witness_policy``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyError(f"cannot read policy {path}: {e}") from None
    return parse_policy(text)


def _log(args: list[str], logs: list[PolicyLog], number: int) -> PolicyLog:
    if not 1 <= len(args) <= 2:
        raise PolicyError("log takes a vkey and an optional URL", number)
    try:
        verifier = Verifier.from_text(args[0])
    except KeyFileError as e:
        raise PolicyError(f"log vkey: {e}", number) from None
    if any(log.verifier.public_key == verifier.public_key for log in logs):
        raise PolicyError("duplicate log key", number)
    return PolicyLog(verifier, args[1] if len(args) == 2 else None)


def _witness(
    args: list[str],
    witnesses: Mapping[str, PolicyWitness],
    groups: Mapping[str, Group],
    number: int,
) -> PolicyWitness:
    if not 2 <= len(args) <= 3:
        raise PolicyError("witness takes a name, a vkey and an optional URL", number)
    name = args[0]
    if name in witnesses or name in groups:
        raise PolicyError(f"name {name!r} is already defined", number)
    try:
        verifier = WitnessVerifier.from_text(args[1])
    except CosignatureError as e:
        raise PolicyError(f"witness {name}: {e}", number) from None
    if any(w.verifier.public_key == verifier.public_key for w in witnesses.values()):
        raise PolicyError(f"witness {name}: duplicate witness key", number)
    return PolicyWitness(name, verifier, args[2] if len(args) == 3 else None)


def _group(
    args: list[str],
    witnesses: Mapping[str, PolicyWitness],
    groups: Mapping[str, Group],
    member_of: dict[str, str],
    number: int,
) -> Group:
    if len(args) < 3:
        raise PolicyError("group takes a name, a threshold and at least one member", number)
    name, threshold_text, members = args[0], args[1], args[2:]
    if name in witnesses or name in groups:
        raise PolicyError(f"name {name!r} is already defined", number)
    if threshold_text == "all":
        threshold = len(members)
    elif threshold_text == "any":
        threshold = 1
    elif _DECIMAL.fullmatch(threshold_text) and int(threshold_text) <= len(members):
        threshold = int(threshold_text)
    else:
        raise PolicyError(
            f"threshold {threshold_text!r} is not all, any or 1..{len(members)}", number
        )
    for member in members:
        if member == NONE:
            raise PolicyError("none cannot be a group member", number)
        if member not in witnesses and member not in groups:
            raise PolicyError(f"member {member!r} is not defined above", number)
        if member in member_of:
            raise PolicyError(f"{member!r} is already a member of {member_of[member]!r}", number)
        member_of[member] = name
    return Group(name, threshold, tuple(members))


@dataclass(frozen=True)
class Cosigned:
    """A policy witness that validly cosigned, and its (latest valid) timestamp."""

    witness: str
    timestamp: int


@dataclass(frozen=True)
class Refusal:
    """A line by a policy witness that was not counted.

    ``reason``: ``cosignature_signature`` (does not verify), ``cosignature_format``
    (cannot be a cosignature/v1), ``cosignature_future`` (timestamp beyond the tolerance).
    """

    witness: str
    reason: str
    detail: str


@dataclass(frozen=True)
class PolicyVerdict:
    """The outcome of :func:`evaluate`; ``failure`` is None when the checkpoint passes.

    ``failure`` is a step code: ``checkpoint_format``, ``log_signature`` or
    ``witness_quorum``; ``message`` says why.
    """

    quorum_met: bool
    cosigned: tuple[Cosigned, ...]
    refused: tuple[Refusal, ...]
    ignored_lines: int
    witness_count: int
    failure: str | None
    message: str

    @property
    def cosigned_by(self) -> list[str]:
        return [c.witness for c in self.cosigned]

    def check(self) -> None:
        """Raise :class:`VerificationError` with the failure's step code, if any."""
        if self.failure is not None:
            raise VerificationError(self.failure, self.message)


def evaluate(
    note_text: str,
    policy: Policy,
    now: float,
    *,
    future_tolerance: float = FUTURE_TOLERANCE_SECONDS,
    verified_log: Verifier | None = None,
) -> PolicyVerdict:
    """Which of the policy's witnesses validly cosigned ``note_text``, and is the quorum met?

    Lines by keys the policy does not name are ignored; a witness counts once however many
    lines it has; a valid cosignature dated after ``now + future_tolerance`` is refused.
    If the policy lists logs, one of them (key name = the checkpoint's origin) must have
    signed the note. A line that claims a policy key but does not verify is refused and
    reported, not fatal to the note: anyone relaying a note can append lines.

    ``verified_log`` is a log key the caller has already opened this same ``note_text``
    with (:func:`anchoring.checkpoint.open_note`, which :func:`anchoring.verify.verify_bundle`
    runs with its platform key): every line by that key verified there, so a policy log
    equal to it (same name and public key) counts as signed when the note has a line by
    it, without checking that signature again. Any other policy log is checked as usual.

    >>> verdict = evaluate(note, policy, time.time())       # doctest: +SKIP
    >>> verdict.check()                                      # doctest: +SKIP
    """
    try:
        note = parse_note(note_text)
        TreeHead.parse(note.text)
    except NoteError as e:
        return _failed("checkpoint_format", str(e), policy)
    if policy.logs and not _signed_by_a_log(note, policy, verified_log):
        names = ", ".join(log.verifier.name for log in policy.logs)
        return _failed("log_signature", f"no valid signature by a policy log ({names})", policy)
    counted: dict[str, int] = {}
    refused: list[Refusal] = []
    ignored = 0
    claimed: dict[tuple[str, bytes], PolicyWitness] = {}  # what WitnessVerifier.matches asks
    for w in policy.witnesses.values():
        claimed.setdefault((w.verifier.name, w.verifier.key_id), w)  # the first, as next() did
    for line in note.signatures:
        witness = claimed.get((line.name, line.key_id))
        if witness is None:
            ignored += 1
            continue
        try:
            timestamp = check_cosignature(
                witness.verifier, note.text, line, now=now, future_tolerance=future_tolerance
            )
        except CosignatureError as e:
            refused.append(Refusal(witness.name, e.step, e.message))
            continue
        counted[witness.name] = max(timestamp, counted.get(witness.name, 0))
    met = _satisfied(policy.quorum, policy, set(counted))
    cosigned = tuple(Cosigned(name, ts) for name, ts in sorted(counted.items()))
    failure, message = None, f"quorum {policy.quorum} met by {', '.join(counted) or 'nobody'}"
    if not met:
        failure = "witness_quorum"
        message = (
            f"quorum {policy.quorum!r} not met: cosigned by {len(counted)} of "
            f"{len(policy.witnesses)} witnesses ({', '.join(sorted(counted)) or 'none'})"
        )
    return PolicyVerdict(
        met, cosigned, tuple(refused), ignored, len(policy.witnesses), failure, message
    )


def _signed_by_a_log(note: Note, policy: Policy, verified: Verifier | None) -> bool:
    origin = note.text.partition("\n")[0]
    message = note.text.encode("utf-8")
    for log in policy.logs:
        key = log.verifier
        if key.name != origin:
            continue
        # open_note refuses a note with any line by its key that does not verify.
        checked = key == verified
        for line in note.signatures:
            if line.key == (key.name, key.key_id) and (
                checked or key.verify(message, line.signature)
            ):
                return True
    return False


def _satisfied(name: str, policy: Policy, counted: set[str]) -> bool:
    if name == NONE:
        return True
    if name in policy.witnesses:
        return name in counted
    group = policy.groups[name]
    return sum(_satisfied(m, policy, counted) for m in group.members) >= group.threshold


def _failed(step: str, message: str, policy: Policy) -> PolicyVerdict:
    return PolicyVerdict(False, (), (), 0, len(policy.witnesses), step, message)
