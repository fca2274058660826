"""The owner endpoint (``assay owner serve``): where owners' signed statements come in.

    POST /owner/statements      {"envelope_b64": <owner-signed envelope>} → 202, published
    GET  /owner/items/{id}      the item's version and its ownership: owner key and
                                fingerprint, whether a claim is open, a stolen/lost report
    GET  /healthz               liveness

Apart from the read-only ``assay serve``: this process writes to Kafka. It checks the
envelope, the key, the signature and the statement's fields (docs/owner-statements.md),
then asks the ledger as it stands whether the rules would take the statement
(``not_owner``, ``wrong_claim_code``, ``stale_statement``, …): a statement they refuse is
answered 409 with the rule's code at once and not published, so an owner who mistyped a
code hears so now. Otherwise it publishes the exact bytes to ``custody.events`` keyed by
the item id. The ingest still decides (the item may change in between) and writes its
refusals to ``custody.rejected``; whoever polls ``/owner/items/{id}`` sees the result.

Every error is JSON ``{"error": <code>, "message": <text>}``: 422 for an envelope that
fails a check (its stable code), 409 for a statement the ledger's rules refuse (the
rule's code, docs/custody-rules.md), 413 for an oversized request, 404 for an unknown
item, 503 when the broker did not acknowledge, 500 without detail for anything else.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from anchoring.verify_owner import open_owner
from domain.owner_statement import OwnerStatement
from server.app import ItemId
from streams.envelope import MAX_MESSAGE_BYTES
from streams.errors import SerializationError

log = logging.getLogger(__name__)

#: ``publish(item_id, envelope)``: sends and waits for the broker's acknowledgement.
Publish = Callable[[str, bytes], None]
#: ``lookup(item_id)``: the item's ownership view, or None for an unknown item.
Lookup = Callable[[str], dict[str, Any] | None]
#: ``judge(statement)``: ``(rule, reason)`` if the ledger would refuse it now, else None.
Judge = Callable[[OwnerStatement], tuple[str, str] | None]


class PublishFailed(RuntimeError):
    """The broker did not acknowledge a statement."""


def create_owner_app(publish: Publish, lookup: Lookup, judge: Judge) -> FastAPI:
    app = FastAPI(title="Assay owner endpoint", docs_url=None, redoc_url=None)
    _install_error_handlers(app)
    # The buyer's page (another origin) posts here: a statement authenticates itself by its
    # signature, so any origin may send one; no cookies or credentials are involved.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
    )

    @app.post("/owner/statements", status_code=202)
    async def post_statement(request: Request) -> JSONResponse:
        envelope = _envelope_of(await _bounded_json(request))
        try:
            statement = open_owner(envelope)
        except SerializationError as e:
            return _error(422, e.code, e.reason)
        refused = judge(statement)
        if refused is not None:
            return _error(409, *refused)
        try:
            publish(statement.item_id, envelope)
        except Exception as e:
            log.warning("statement %s not published: %s", statement.statement_id, e)
            return _error(503, "unavailable", "the statement was not published; retry")
        return JSONResponse(_published(statement), status_code=202)

    @app.get("/owner/items/{item_id}")
    def item_ownership(item_id: ItemId) -> JSONResponse:
        view = lookup(item_id)
        if view is None:
            return _error(404, "not_found", f"no item {item_id!r}")
        return JSONResponse(view)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _published(statement: OwnerStatement) -> dict[str, Any]:
    return {
        "status": "published",
        "statement_id": statement.statement_id,
        "item_id": statement.item_id,
        "kind": statement.kind.value,
        "owner": statement.fingerprint,
    }


async def _bounded_json(request: Request) -> Any:
    limit = 2 * MAX_MESSAGE_BYTES  # base64 of the largest envelope, and its JSON
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"the request is over {limit} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise HTTPException(400, "the request body is not JSON") from None


def _envelope_of(data: Any) -> bytes:
    if not isinstance(data, dict) or not isinstance(data.get("envelope_b64"), str):
        raise HTTPException(400, 'the request is {"envelope_b64": <base64 envelope>}')
    try:
        return base64.b64decode(data["envelope_b64"], validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(400, "envelope_b64 is not base64") from None


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = ", ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        return _error(422, "invalid_input", where or "invalid input")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = {
            400: "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
        }.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal", "internal error")
