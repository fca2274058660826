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

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from witness.core import TEXT, Reply, Witness
from witness.protocol import ADD_CHECKPOINT_PATH, MAX_REQUEST_BYTES

if TYPE_CHECKING:
    from starlette.types import ASGIApp, ExceptionHandler

log = logging.getLogger(__name__)

#: At most this many requests share one commit.
MAX_BATCH = 64


class _TooLarge(Exception):
    pass


class _GroupCommit:
    """One writer task: requests waiting while a commit is under way go in the next one.

    A commit's fsync is the cost of a request, so concurrent clients share it; a lone
    client sees one commit per request, as before.
    """

    def __init__(self, witness: Witness) -> None:
        self._witness = witness
        self._queue: asyncio.Queue[tuple[bytes, asyncio.Future[Reply]]] = asyncio.Queue()

    async def submit(self, body: bytes) -> Reply:
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        await self._queue.put((body, future))
        return await future

    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            bodies = [body for body, _ in batch]
            try:
                replies = await anyio.to_thread.run_sync(self._witness.add_checkpoints, bodies)
            except Exception as e:  # a bug or a failing disk: every waiter gets a 500
                log.exception("witness: a batch of %d requests failed", len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)
                continue
            for (_, future), reply in zip(batch, replies, strict=True):
                if not future.done():
                    future.set_result(reply)


def create_app(witness: Witness, *, max_request_bytes: int = MAX_REQUEST_BYTES) -> Starlette:
    """The ASGI app serving ``witness``."""
    writer = _GroupCommit(witness)
    by_hash = {hashlib.sha256(o.encode()).hexdigest(): o for o in witness.logs}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(writer.run())
        yield
        task.cancel()

    async def add_checkpoint(request: Request) -> Response:
        try:
            body = await _bounded_body(request, max_request_bytes)
        except _TooLarge:
            return _error(413, "too_large", f"requests are at most {max_request_bytes} bytes")
        reply = await writer.submit(body)
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
        lifespan=lifespan,
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


def serve(
    witness: Witness,
    host: str,
    port: int,
    log_level: str = "warning",
    *,
    wrap: Callable[[Starlette], ASGIApp] | None = None,
) -> None:
    """Run the server until interrupted (uvicorn, bounded like ``assay serve``).

    ``wrap`` puts middleware around the app (the request metrics of ``--metrics-port``).
    """
    import uvicorn

    app = create_app(witness)
    uvicorn.run(
        app if wrap is None else wrap(app),
        host=host,
        port=port,
        log_level=log_level,
        limit_concurrency=200,
        timeout_keep_alive=30,
        h11_max_incomplete_event_size=16 * 1024,
    )
