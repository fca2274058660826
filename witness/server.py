"""The witness's HTTP server (``assay witness serve``): C2SP tlog-witness over Starlette.

    POST /add-checkpoint           the protocol (see witness.core for every status code)
    GET  /<sha256(origin) hex>/checkpoint
                                   the last checkpoint cosigned for that log, with the log's
                                   signature lines and the witness's cosignature (text/plain)
    GET  /healthz                  JSON: the witness's name, vkey and configured origins

Replies of the protocol are its own text formats (``text/x.tlog.size`` for a 409,
``text/plain`` otherwise); anything else — an unknown path, a wrong method, a request
larger than the protocol allows (413), an internal error (500, no detail) — is JSON
``{"error": <code>, "message": <text>}``. No traceback reaches a client.

Starlette rather than FastAPI: the protocol is plain text with its own error rules, so
FastAPI's models and validation would add work per request and nothing a client sees.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from witness.core import TEXT, Witness
from witness.protocol import ADD_CHECKPOINT_PATH, MAX_REQUEST_BYTES

if TYPE_CHECKING:
    from starlette.types import ExceptionHandler

log = logging.getLogger(__name__)


class _TooLarge(Exception):
    pass


def create_app(witness: Witness, *, max_request_bytes: int = MAX_REQUEST_BYTES) -> Starlette:
    """The ASGI app serving ``witness``."""
    # Requests are decided one at a time anyway (one SQLite writer), so one worker
    # thread keeps the order of arrival and spares the pool's hand-offs.
    limiter = anyio.CapacityLimiter(1)
    by_hash = {hashlib.sha256(o.encode()).hexdigest(): o for o in witness.logs}

    async def add_checkpoint(request: Request) -> Response:
        try:
            body = await _bounded_body(request, max_request_bytes)
        except _TooLarge:
            return _error(413, "too_large", f"requests are at most {max_request_bytes} bytes")
        reply = await anyio.to_thread.run_sync(witness.add_checkpoint, body, limiter=limiter)
        if reply.status != 200:
            log.info("add-checkpoint refused: %d %s", reply.status, reply.body[:200])
        # Set as a header: Starlette would append a charset to the protocol's exact
        # ``text/x.tlog.size``.
        return Response(reply.body, reply.status, headers={"Content-Type": reply.content_type})

    async def checkpoint(request: Request) -> Response:
        origin = by_hash.get(request.path_params["origin_hash"])
        state = None if origin is None else witness.store.get(origin)
        if state is None:
            return Response(b"no checkpoint cosigned for this log\n", 404, media_type=TEXT)
        return Response(state.note.encode("utf-8"), 200, media_type=TEXT)

    async def healthz(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "name": witness.signer.name,
                "vkey": witness.signer.verifier().to_text(),
                "logs": sorted(witness.logs),
            }
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail), exc.headers)

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("witness: internal error on %s %s", request.method, request.url.path)
        return _error(500, "internal", "internal error")

    handlers: dict[type[Exception] | int, ExceptionHandler] = {
        HTTPException: http_error,
        Exception: internal_error,
    }
    return Starlette(
        routes=[
            Route(ADD_CHECKPOINT_PATH, add_checkpoint, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/{origin_hash:str}/checkpoint", checkpoint, methods=["GET"]),
        ],
        exception_handlers=handlers,
    )


async def _bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _TooLarge
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise _TooLarge
    return bytes(chunks)


def _error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONResponse({"error": code, "message": message}, status, headers=headers)


def serve(witness: Witness, host: str, port: int, log_level: str = "warning") -> None:
    """Run the server until interrupted (uvicorn, bounded like ``assay serve``)."""
    import uvicorn

    uvicorn.run(
        create_app(witness),
        host=host,
        port=port,
        log_level=log_level,
        limit_concurrency=200,
        timeout_keep_alive=30,
        h11_max_incomplete_event_size=16 * 1024,
    )
