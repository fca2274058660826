"""Run one bundle through both verifiers: anchoring/verify.py and the page's verifier.js."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from anchoring.checkpoint import Verifier
from anchoring.errors import VerificationError
from anchoring.verify import read_bundle, verify_bundle

if TYPE_CHECKING:
    from playwright.sync_api import Page


@dataclass(frozen=True)
class Case:
    name: str
    text: str | bytes  # the bundle as JSON text, or its exact bytes: both verifiers read it
    key: str  # the pinned platform key (verifier key text)
    device_keys: dict[str, str] | None = None  # pinned device keys, hex
    origin: str | None = None
    want: str | None = None  # expected step (None: verified), when the case says

    @classmethod
    def of(cls, name: str, bundle: Any, key: str, **kw: Any) -> Case:
        return cls(name, json.dumps(bundle, ensure_ascii=False), key, **kw)


@dataclass(frozen=True)
class Outcome:
    step: str | None  # None: verified
    version: int | None

    def __str__(self) -> str:
        if self.step is None:
            return "verified"
        return self.step + (f" at v{self.version}" if self.version is not None else "")


def python_outcome(case: Case) -> Outcome:
    """What `assay verify` decides: the key, the pinned device keys, then the bundle."""
    pinned = None
    if case.device_keys is not None:
        pinned = {k: bytes.fromhex(v) for k, v in case.device_keys.items()}
    try:
        key = Verifier.from_text(case.key)
        verify_bundle(read_bundle(case.text), key, pinned, origin=case.origin)
    except VerificationError as e:
        return Outcome(e.step, getattr(e, "version", None))
    return Outcome(None, None)


_RUN = """async (cases) => {
  const out = [];
  for (const c of cases) {
    const input = c.b64 === null ? c.text : Uint8Array.from(atob(c.b64), (ch) => ch.charCodeAt(0));
    const o = await AssayVerifier.verifyText(input, c.key, c.devices, {origin: c.origin});
    out.push({ok: o.ok, step: o.step, version: o.version, message: o.message, ms: o.ms});
  }
  return out;
}"""


def page_outcomes(page: Page, cases: list[Case]) -> list[tuple[Outcome, str, float]]:
    """(outcome, message, ms) of each case, verified in the page in one round trip."""
    payload = [
        {
            "text": c.text if isinstance(c.text, str) else None,
            "b64": base64.b64encode(c.text).decode() if isinstance(c.text, bytes) else None,
            "key": c.key,
            "devices": json.dumps(c.device_keys) if c.device_keys is not None else "",
            "origin": c.origin,
        }
        for c in cases
    ]
    results = page.evaluate(_RUN, payload)
    return [
        (Outcome(None if r["ok"] else r["step"], r["version"]), r["message"], r["ms"])
        for r in results
    ]
