"""Typed failures of the witness package, each with a stable ``step`` code.

They extend :class:`anchoring.errors.VerificationError`, so a verifier maps them to its
report exactly as it maps the anchoring steps.

=========================  ==================================================================
``checkpoint_format``      a signed note or checkpoint body is not in the strict format
``cosignature_format``     a cosignature line cannot be one (length, timestamp range)
``cosignature_signature``  a cosignature does not verify under the witness key it names
``cosignature_key``        a witness key text is malformed or not ``cosignature/v1``
``witness_policy``         a policy file is malformed
``witness_quorum``         the cosignatures present do not satisfy the policy's quorum
``log_signature``          the policy names logs and none of them signed the checkpoint
``ots_format``             an ``.ots`` file or a block header cannot be parsed
``ots_digest``             the ``.ots`` file timestamps other bytes than those given
``ots_pending``            the timestamp has no Bitcoin attestation yet
``ots_header``             no Bitcoin attestation commits to the given block header
=========================  ==================================================================
"""

from __future__ import annotations

from anchoring.errors import VerificationError


class NoteError(VerificationError):
    """A signed note or its checkpoint body is malformed."""

    def __init__(self, message: str) -> None:
        super().__init__("checkpoint_format", message)


class CosignatureError(VerificationError):
    """A cosignature line or witness key is malformed, or a cosignature does not verify."""


class PolicyError(VerificationError):
    """A witness policy is malformed (``witness_policy``)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        where = f"line {line}: " if line is not None else ""
        super().__init__("witness_policy", where + message)
        self.line = line


class TimestampError(VerificationError):
    """An OpenTimestamps proof is malformed, pending, or does not match."""
