"""EPCIS 2.0 query endpoints of ``assay serve``: an item's history as an EPCISQueryDocument.

    GET /epcs/{epc}/events        the events of one EPC (an SGTIN URN or Digital Link URI)
    GET /events?MATCH_epc=a|b     the events of the listed EPCs (pipe-delimited)

Errors are RFC 7807 problems with GS1's exception types, as on the capture gateway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from epcis.export import item_history, query_document
from epcis.identifiers import IdentifierError, canonical_epc
from epcis.problems import NOT_FOUND, PROBLEM_MEDIA_TYPE, QUERY, Problem
from ledger.application import ItemNotFound

if TYPE_CHECKING:
    from server.readmodel import ReadModel

HEADERS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
#: At most this many EPCs in one MATCH_epc.
MAX_EPCS = 100
MAX_EPC_LENGTH = 256


def add_epcis_routes(app: FastAPI, model: ReadModel) -> None:
    @app.get(
        "/epcs/{epc:path}/events",
        summary="EPCIS: the events of one EPC (EPCISQueryDocument)",
        tags=["EPCIS"],
    )
    def epc_events(epc: str, request: Request) -> JSONResponse:
        try:
            item = _item_id(epc)
            events = item_history(model.ledger, model.chain, item)
        except Problem as problem:
            return _problem(problem, request)
        except ItemNotFound:
            return _problem(Problem(404, NOT_FOUND, "Resource not found", f"no EPC {epc}"), request)
        return JSONResponse(query_document(events), headers=HEADERS)

    @app.get(
        "/events",
        summary="EPCIS: events matching MATCH_epc (EPCISQueryDocument)",
        tags=["EPCIS"],
    )
    def events(request: Request) -> JSONResponse:
        try:
            wanted = _match_epc(request)
        except Problem as problem:
            return _problem(problem, request)
        found: list[dict[str, object]] = []
        for item in wanted:
            try:
                found.extend(item_history(model.ledger, model.chain, item))
            except ItemNotFound:
                continue  # a query that matches nothing answers with no events
        found.sort(key=lambda e: (str(e["eventTime"]), str(e["eventID"])))
        return JSONResponse(query_document(found), headers=HEADERS)


def _match_epc(request: Request) -> list[str]:
    params = request.query_params
    unknown = sorted(set(params) - {"MATCH_epc"})
    if unknown:
        raise Problem(400, QUERY, "Query parameter not supported", f"only MATCH_epc, not {unknown}")
    raw = params.get("MATCH_epc", "")
    epcs = [e for e in raw.split("|") if e]
    if not epcs or len(epcs) > MAX_EPCS:
        raise Problem(400, QUERY, "Invalid MATCH_epc", f"give 1 to {MAX_EPCS} EPCs, '|'-separated")
    return list(dict.fromkeys(_item_id(e) for e in epcs))


def _item_id(epc: str) -> str:
    if len(epc) > MAX_EPC_LENGTH or epc.startswith("urn:epc:idpat:"):
        raise Problem(400, QUERY, "Invalid EPC", f"{epc[:80]!r}: an EPC URN or Digital Link URI")
    try:
        return canonical_epc(epc)
    except IdentifierError as e:
        raise Problem(400, QUERY, "Invalid EPC", str(e)) from None


def _problem(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(
        problem.body(request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=HEADERS,
    )
