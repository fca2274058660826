"""What verifying a bundle ends in: the result (:class:`Verified`) or the failing step.

The format names and version numbers live here too, so every step module and the prover
share one spelling of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

from anchoring.declarations import declared_in_error
from anchoring.errors import VerificationError

BUNDLE_FORMAT = "assay-proof-bundle"
BUNDLE_VERSION = 1
BUNDLE_VERSION_2 = 2
#: Version 3: a version 2 checkpoint (the block log's tree head) and the head proven into it.
BUNDLE_VERSION_3 = 3
#: Version 4: version 3 with the parties and device keys it uses proven (``registry``).
BUNDLE_VERSION_4 = 4
#: Version 5: version 4 with every map proof's hashes in base64url (docs/proof-bundle.md §14).
BUNDLE_VERSION_5 = 5
ABSENCE_FORMAT = "assay-absence"
MAX_INT = 2**53 - 1


class BundleError(VerificationError):
    """A check failed; ``step`` names it, ``version`` the event (if it is about one)."""

    def __init__(self, step: str, message: str, version: int | None = None) -> None:
        where = f"event v{version}: " if version is not None else ""
        super().__init__(step, where + message)
        self.version = version


@dataclass(frozen=True)
class Verified:
    item_id: str
    origin: str
    checkpoint_size: int
    events: int
    pending: int
    summaries: list[dict[str, Any]] = field(default_factory=list)
    bundle_version: int = BUNDLE_VERSION
    #: "complete" (versions 2 to 5: no anchored event left out), or "inclusion_only" (1).
    completeness: str = "inclusion_only"
    #: ``sealed_at`` of the head the result holds at (the newer checkpoint's, if given).
    checkpoint_time: str = ""
    #: A valid absence bundle: the item is not in the ledger as of the checkpoint.
    absent: bool = False
    #: Version 4: party id → ``{"name", "role", "proven": True}`` as the head map proves
    #: them; ``None`` for earlier versions, whose names are only the platform's listing.
    parties: dict[str, dict[str, Any]] | None = None

    @property
    def declared_in_error(self) -> list[dict[str, Any]]:
        """The verified events declared in error, and by which (docs/proof-bundle.md §4.9)."""
        return declared_in_error(self.summaries)


def fail(step: str, message: str, version: int | None = None) -> NoReturn:
    raise BundleError(step, message, version)
