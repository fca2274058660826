"""The read-only HTTP API and the verifier page: ``create_app(settings)``.

    GET /items/{id}         current state and history (JSON)
    GET /items/{id}/proof   the proof bundle (docs/proof-bundle.md)
    GET /items/{id}/qr.svg  a QR code linking to the item's verifier page
    GET /items/{id}/newer?height=H  brings a bundle whose head is block H up to date
    GET /checkpoint         the latest signed checkpoint (C2SP signed note, text/plain)
    GET /keys               the platform's verifier key and the devices' public keys
    GET /witnesses          the newest checkpoint's witness quorum, each witness's state
    GET /healthz            liveness and how far the stores are
    GET / , /verify         the verifier page (checks a bundle in the browser)
    GET /openapi.json       this API, described

Every error is JSON ``{"error": <code>, "message": <text>}``: 404 for an unknown item,
422 for an id that cannot be one, 503 while the stores are momentarily inconsistent, 500
without any detail for anything else (the traceback goes to the server log only).
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import segno
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from epcis.query import add_epcis_routes
from ledger.application import ItemNotFound
from server.owner_page import page_policy, pin_owner_endpoint
from server.pinning import load_pins, pin_page
from server.readmodel import Absent, NotAnchored, ReadModel, StoreUnavailable

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from assay.settings import Settings

log = logging.getLogger(__name__)

#: Item ids the API accepts: URN characters (EPC URNs percent-escape the rest), <= 256.
ITEM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:~@+=%!*'(),;$&-]{0,255}$"
ItemId = Annotated[
    str,
    Path(
        pattern=ITEM_ID_PATTERN,
        max_length=256,
        description="The item's id, e.g. an EPC SGTIN URN",
        examples=["urn:epc:id:sgtin:0614141.107346.2017"],
    ),
]

# The page talks to its own origin only; nothing can be loaded from anywhere else.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "manifest-src 'self'; worker-src 'self'"
)
STATIC = {
    "verifier.html": "text/html; charset=utf-8",
    "verifier-encodings.js": "text/javascript; charset=utf-8",
    "verifier-chain.js": "text/javascript; charset=utf-8",
    "verifier-map.js": "text/javascript; charset=utf-8",
    "verifier-registry.js": "text/javascript; charset=utf-8",
    "verifier-witness.js": "text/javascript; charset=utf-8",
    "verifier-owner.js": "text/javascript; charset=utf-8",
    "page-owner.js": "text/javascript; charset=utf-8",
    "verifier.js": "text/javascript; charset=utf-8",
    "kinds.js": "text/javascript; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
    "verifier.css": "text/css; charset=utf-8",
    # The buyer's passport: catalogues, the verdict model, rendering, offline copy, icons.
    "i18n-en.js": "text/javascript; charset=utf-8",
    "i18n-zh-Hans.js": "text/javascript; charset=utf-8",
    "i18n-ja.js": "text/javascript; charset=utf-8",
    "i18n.js": "text/javascript; charset=utf-8",
    "passport.js": "text/javascript; charset=utf-8",
    "page-render.js": "text/javascript; charset=utf-8",
    "sw.js": "text/javascript; charset=utf-8",
    "manifest.webmanifest": "application/manifest+json",
    "icon.svg": "image/svg+xml",
    "icon-192.png": "image/png",
    "icon-512.png": "image/png",
}


class ErrorBody(BaseModel):
    error: str
    message: str


class Health(BaseModel):
    status: str
    ledger_position: int
    checkpoint_size: int | None


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such item (or nothing anchored yet)"},
    422: {"model": ErrorBody, "description": "The id cannot be an item id"},
    503: {"model": ErrorBody, "description": "Stores momentarily inconsistent; retry"},
}


#: The API is read-only: nothing it serves takes a request body.
READ_METHODS = frozenset({"GET", "HEAD"})
#: Bounds on what a client may send and on how long one request may take.
MAX_BODY_BYTES = 1024
MAX_TARGET_BYTES = 2048
REQUEST_SECONDS = 10.0


def create_app(
    settings: Settings,
    read_model: ReadModel | None = None,
    *,
    request_seconds: float = REQUEST_SECONDS,
) -> FastAPI:
    pins = load_pins(settings)  # a broken pinned key or policy stops the start, with why
    model = read_model or ReadModel(settings)
    assets = {name: (files("server") / "static" / name).read_bytes() for name in STATIC}
    assets["verifier.html"] = pin_page(assets["verifier.html"], pins)
    owner_endpoint = settings.page_owner_endpoint  # the page's claim (server/owner_page.py)
    policy = page_policy(PAGE_POLICY, owner_endpoint)
    assets["verifier.html"] = pin_owner_endpoint(assets["verifier.html"], owner_endpoint)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # On a large store the first read of the party directory scans the whole log.
        threading.Thread(target=model.warm_up, name="assay-warm-up", daemon=True).start()
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="Assay",
        version="1",
        summary="Read-only custody history, proof bundles and keys for verifying them.",
        description=(
            "Everything a buyer needs to check an item's history without trusting this "
            "server: fetch the bundle, pin the platform key from an independent channel, "
            "and verify in the page at `/verify` (or with `assay verify`)."
        ),
        docs_url=None,  # the Swagger UI would load scripts from a CDN; /openapi.json stays
        redoc_url=None,
    )
    _install_error_handlers(app)

    @app.middleware("http")
    async def bounded(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Read-only and bounded: refuse writes, bodies and huge targets before any handler
        runs, and answer 503 when a request takes longer than ``request_seconds``."""
        if request.method not in READ_METHODS:
            return _error(405, "method_not_allowed", "this API is read-only", Allow="GET, HEAD")
        target = len(request.url.path) + len(request.url.query)
        if target > MAX_TARGET_BYTES:
            return _error(414, "uri_too_long", f"request target over {MAX_TARGET_BYTES} bytes")
        length = request.headers.get("content-length", "0")
        if (
            not length.isdigit()
            or int(length) > MAX_BODY_BYTES
            or "chunked" in request.headers.get("transfer-encoding", "").lower()
        ):
            return _error(413, "too_large", f"request bodies over {MAX_BODY_BYTES} bytes")
        try:
            return await asyncio.wait_for(call_next(request), timeout=request_seconds)
        except TimeoutError:
            return _error(503, "timeout", f"no answer within {request_seconds:g} s; retry",
                          **{"Retry-After": "1"})  # fmt: skip

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Content-Security-Policy", policy)
        return response

    def asset(name: str) -> Response:
        return Response(assets[name], media_type=STATIC[name])

    @app.get("/", include_in_schema=False)
    @app.get("/verify", summary="The verifier page", response_class=Response)
    def verifier_page() -> Response:
        """A static page that verifies a proof bundle in the browser (`?item=<id>`)."""
        return asset("verifier.html")

    def page_asset(request: Request) -> Response:
        return asset(request.url.path.lstrip("/"))

    for name in STATIC:
        if name != "verifier.html":
            app.get(f"/{name}", include_in_schema=False)(page_asset)

    @app.get("/healthz", summary="Liveness and store positions", response_model=Health)
    def healthz() -> dict[str, Any]:
        return model.status()

    @app.get(
        "/items/{item_id}",
        summary="An item's current state and history",
        responses=ERRORS,
    )
    def get_item(item_id: ItemId) -> dict[str, Any]:
        """State rebuilt from the event store, and every stored event (anchored or not)."""
        return model.item(item_id)

    @app.get(
        "/items/{item_id}/proof",
        summary="The item's proof bundle (assay-proof-bundle v4: parties and keys proven; v3 "
        "before the registry switch); for an id never recorded, "
        "404 with its absence proof (assay-absence)",
        responses=ERRORS,
    )
    def get_proof(item_id: ItemId) -> dict[str, Any]:
        """Anchored events with Merkle paths, block proofs and the signed checkpoint."""
        return model.proof(item_id)

    @app.get(
        "/items/{item_id}/newer",
        summary="Bring an older bundle up to the current checkpoint: the `newer` object "
        "for a bundle whose head is block `height` (docs/proof-bundle.md §10.4)",
        responses=ERRORS,
    )
    def get_newer(
        item_id: ItemId,
        height: Annotated[int, Query(ge=0)],
        version: Annotated[int, Query(ge=2, le=5)] = 4,
    ) -> dict[str, Any]:
        """Add it to the old bundle as ``newer``: its verdict then says whether the item's
        history is still complete at this checkpoint or has newer events. ``version``: the
        old bundle's format, whose spelling the map proof takes (base64url from 5 on). It
        defaults to 4 (hex) because clients written before version 5 send no version and
        hold bundles of version 4 or older; a version 5 bundle asks with ``version=5``."""
        return model.newer(item_id, height, version)

    @app.get(
        "/items/{item_id}/qr.svg",
        summary="A QR code linking to the item's verifier page",
        response_class=Response,
        responses={**ERRORS, 200: {"content": {"image/svg+xml": {}}}},
    )
    def get_qr(item_id: ItemId, request: Request) -> Response:
        model.ledger.get_item(item_id)
        link = f"{request.base_url}verify?item={quote(item_id, safe='')}"
        out = io.BytesIO()
        segno.make(link, error="m").save(
            out, kind="svg", scale=4, border=2, xmldecl=False, title=f"Verify {item_id}"
        )
        return Response(out.getvalue(), media_type="image/svg+xml")

    @app.get(
        "/checkpoint",
        summary="The latest signed checkpoint (C2SP signed note)",
        response_class=PlainTextResponse,
        responses={404: ERRORS[404], 503: ERRORS[503]},
    )
    def get_checkpoint() -> PlainTextResponse:
        return PlainTextResponse(model.checkpoint_text())

    @app.get(
        "/witnesses",
        summary="The witnesses' state: the newest checkpoint's quorum, each witness's last "
        "cosigned size (docs/witnesses.md)",
    )
    def get_witnesses() -> dict[str, Any]:
        """Information only: a buyer checks cosignatures with a pinned policy, not this."""
        from assay.status_witnesses import witness_report

        return witness_report(settings)

    @app.get("/keys", summary="Public keys: the platform's verifier key and the devices'")
    def get_keys() -> dict[str, Any]:
        """Convenience only: pin the platform key from a channel other than this server."""
        return model.keys()

    add_epcis_routes(app, model)
    return app


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ItemNotFound)
    async def not_found(request: Request, exc: ItemNotFound) -> JSONResponse:
        return _error(404, "not_found", f"no item {exc.item_id!r}")

    @app.exception_handler(Absent)
    async def absent(request: Request, exc: Absent) -> JSONResponse:
        body = {
            "error": "unknown_item",
            "message": f"{exc}: the absence proof shows it",
            "item_id": exc.item_id,
            "absence_proof": exc.bundle,
        }
        return JSONResponse(body, status_code=404)

    @app.exception_handler(NotAnchored)
    async def not_anchored(request: Request, exc: NotAnchored) -> JSONResponse:
        return _error(404, "not_anchored", str(exc))

    @app.exception_handler(StoreUnavailable)
    async def unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("store unavailable: %s", exc)
        message = "the stores are catching up; retry"
        return _error(503, "unavailable", message, **{"Retry-After": "1"})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = ", ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        return _error(422, "invalid_input", where or "invalid input")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail), **(exc.headers or {}))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal", "internal error")
