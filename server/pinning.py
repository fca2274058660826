"""What a deployment pins into the verifier page: the platform key and the witness policy.

The page reads ``<meta name="assay-pinned-key">`` and ``<meta name="assay-witness-policy">``
(docs/verifier.md). A deployment sets them with settings, never by editing files:
``page_pinned_key`` / ``assay serve --pinned-key FILE`` (a verifier key file such as the
``platform.pub`` ``assay keys init`` writes) and ``page_witness_policy`` /
``--witness-policy FILE`` (a C2SP tlog-policy file, docs/witnesses.md). Both files are
checked when the server starts: a page that pins a broken key would refuse every item.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from anchoring.checkpoint import Verifier
from anchoring.errors import KeyFileError
from assay.settings import SettingsError
from witness.errors import PolicyError
from witness.policy import parse_policy

if TYPE_CHECKING:
    from assay.settings import Settings

KEY_META = b'<meta name="assay-pinned-key" content="">'
POLICY_META = b'<meta name="assay-witness-policy" content="">'
#: Larger files are not keys or policies (a policy holds at most a few hundred lines).
MAX_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Pins:
    """The verifier key text and the policy text the page pins; empty: not pinned."""

    key: str = ""
    policy: str = ""


def load_pins(settings: Settings) -> Pins:
    """The pins the settings name, checked; :class:`SettingsError` says what is wrong."""
    key = _read(settings.page_pinned_key, "page_pinned_key").strip()
    if key:
        try:
            Verifier.from_text(key)
        except KeyFileError as e:
            raise SettingsError(
                f"setting 'page_pinned_key': {settings.page_pinned_key} is not a verifier "
                f"key ({e}); use the platform.pub that `assay keys init` writes"
            ) from None
    policy = _read(settings.page_witness_policy, "page_witness_policy")
    if policy.strip():
        try:
            parse_policy(policy)
        except PolicyError as e:
            raise SettingsError(
                f"setting 'page_witness_policy': {settings.page_witness_policy}: {e}"
            ) from None
    return Pins(key, policy if policy.strip() else "")


def _read(path: str, setting: str) -> str:
    if not path:
        return ""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise SettingsError(f"setting {setting!r}: cannot read {path}: {e.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise SettingsError(f"setting {setting!r}: {path} is over {MAX_FILE_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SettingsError(f"setting {setting!r}: {path} is not UTF-8") from None


def pin_page(page: bytes, pins: Pins) -> bytes:
    """The page's HTML with the pins in its meta elements (attribute-escaped)."""
    for placeholder, value in ((KEY_META, pins.key), (POLICY_META, pins.policy)):
        if placeholder not in page:
            raise ValueError(f"the page has no {placeholder.decode()} to fill")
        if value:
            filled = placeholder.replace(
                b'content=""', b'content="' + html.escape(value, quote=True).encode() + b'"'
            )
            page = page.replace(placeholder, filled, 1)
    return page


def export_page(out: Path, pins: Pins) -> list[Path]:
    """Write the page's static files into ``out`` with the pins in its HTML (`assay page`),
    for a brand that hosts the page itself."""
    from importlib.resources import files

    from server.app import STATIC

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in STATIC:
        data = (files("server") / "static" / name).read_bytes()
        if name == "verifier.html":
            data = pin_page(data, pins)
        (out / name).write_bytes(data)
        written.append(out / name)
    return written
