"""The capture gateway's HTTP interface: GS1's EPCIS 2.0 REST capture endpoints.

    POST    /capture        an EPCISDocument (application/json or application/ld+json)
                            -> 202 Accepted, Location: /capture/{captureID}
    GET     /capture/{id}   the capture job (running, success, errors)
    GET     /capture        the latest capture jobs
    OPTIONS /capture        GS1-EPCIS-Version, capture limits, error behaviour

Every error is an RFC 7807 ``application/problem+json`` body with GS1's exception type:
400 an invalid document (nothing captured), 413 too large, 415 another media type, 404 an
unknown capture job.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from epcis.problems import (
    IMPLEMENTATION,
    NOT_FOUND,
    PROBLEM_MEDIA_TYPE,
    VALIDATION,
    Problem,
)

if TYPE_CHECKING:
    from epcis.gateway import Gateway

log = logging.getLogger(__name__)

EPCIS_VERSION = "2.0.0"
CBV_VERSION = "2.0.0"
VERSION_HEADERS = {"GS1-EPCIS-Version": EPCIS_VERSION, "GS1-CBV-Version": CBV_VERSION}


def create_gateway_app(gateway: Gateway) -> FastAPI:
    limits = gateway.reader.limits
    app = FastAPI(
        title="Assay EPCIS capture gateway",
        version=EPCIS_VERSION,
        summary="GS1 EPCIS 2.0 capture: each event signed by this gateway's device key.",
        docs_url=None,
        redoc_url=None,
    )
    _install_error_handlers(app, gateway)

    @app.options("/capture", status_code=204, summary="Capture settings (GS1 discovery)")
    def capture_options() -> Response:
        return Response(
            status_code=204,
            headers={
                "Allow": "OPTIONS, POST, GET",
                **VERSION_HEADERS,
                "GS1-EPCIS-Min": EPCIS_VERSION,
                "GS1-EPCIS-Max": EPCIS_VERSION,
                "GS1-EPCIS-Capture-Limit": str(limits.events),
                "GS1-EPCIS-Capture-File-Size-Limit": str(limits.bytes),
                "GS1-Capture-Error-Behaviour": "rollback",
            },
        )

    @app.post("/capture", status_code=202, summary="Capture an EPCIS document")
    async def capture(request: Request) -> Response:
        gateway.reader.check_media_type(request.headers.get("content-type"))
        behaviour = request.headers.get("GS1-Capture-Error-Behaviour", "rollback")
        if behaviour.strip().lower() != "rollback":
            raise Problem(
                400,
                VALIDATION,
                "Unsupported capture error behaviour",
                f"this gateway captures all or nothing (rollback), not {behaviour!r}",
            )
        body = await _bounded_body(request, limits.bytes, gateway)
        capture_id = await run_in_threadpool(gateway.submit, body)
        return Response(
            status_code=202, headers={"Location": f"/capture/{capture_id}", **VERSION_HEADERS}
        )

    @app.get("/capture/{capture_id}", summary="A capture job")
    def capture_job(capture_id: str) -> JSONResponse:
        job = gateway.store.job(capture_id)
        if job is None:
            raise Problem(404, NOT_FOUND, "Resource not found", f"no capture job {capture_id}")
        return JSONResponse(job.to_json(), headers=VERSION_HEADERS)

    @app.get("/capture", summary="The latest capture jobs")
    def capture_jobs() -> JSONResponse:
        jobs = [job.to_json() for job in gateway.store.recent_jobs()]
        return JSONResponse(jobs, headers=VERSION_HEADERS)

    return app


async def _bounded_body(request: Request, limit: int, gateway: Gateway) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise gateway.reader.too_large(int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise gateway.reader.too_large(size)
        chunks.append(chunk)
    return b"".join(chunks)


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=VERSION_HEADERS,
    )


def _install_error_handlers(app: FastAPI, gateway: Gateway) -> None:
    @app.exception_handler(Problem)
    async def refused(request: Request, exc: Problem) -> JSONResponse:
        if request.method == "POST" and request.url.path == "/capture":
            gateway.stats.refuse(exc.type)
        return problem_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problem = Problem(400, VALIDATION, "Invalid request", str(exc.errors()[:3]))
        return problem_response(problem, request.url.path)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        kind = NOT_FOUND if exc.status_code == 404 else IMPLEMENTATION
        problem = Problem(
            exc.status_code, kind, str(exc.detail), f"{request.method} {request.url.path}"
        )
        response = problem_response(problem, request.url.path)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        problem = Problem(500, IMPLEMENTATION, "Internal error", "internal error")
        if request.method == "POST" and request.url.path == "/capture":
            gateway.stats.refuse(problem.type)
        return problem_response(problem, request.url.path)
