"""Where the buyer's page sends owner statements: ``page_owner_endpoint`` (empty: the page
offers no claim). The page learns it from ``<meta name="assay-owner-endpoint">`` and may
connect to that origin and no other (its Content-Security-Policy)."""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from assay.settings import SettingsError

OWNER_META = b'<meta name="assay-owner-endpoint" content="">'


def owner_origin(endpoint: str) -> str:
    """The endpoint's origin (scheme://host[:port]); :class:`SettingsError` if it is none."""
    if not endpoint:
        return ""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(
            f"setting 'page_owner_endpoint': {endpoint!r} is not an http(s) URL of the owner "
            "endpoint (e.g. https://owners.example)"
        )
    return f"{parts.scheme}://{parts.netloc}"


def pin_owner_endpoint(page: bytes, endpoint: str) -> bytes:
    if not endpoint or OWNER_META not in page:
        return page
    value = html.escape(endpoint.rstrip("/"), quote=True).encode()
    return page.replace(OWNER_META, OWNER_META.replace(b'content=""', b'content="' + value + b'"'))


def page_policy(policy: str, endpoint: str) -> str:
    """The page's CSP, its ``connect-src`` widened to the owner endpoint's origin."""
    origin = owner_origin(endpoint)
    if not origin:
        return policy
    return policy.replace("connect-src 'self'", f"connect-src 'self' {origin}", 1)
