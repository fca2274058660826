"""An OpenTimestamps calendar of the tests' own, on loopback, standing in for the public ones.

It speaks the calendar HTTP API (``POST /digest``, ``GET /timestamp/<hex>``) and builds
real timestamp trees with python-opentimestamps: each digest gets a commitment
(append a nonce, SHA-256) with a pending attestation naming this calendar.
:meth:`Calendar.confirm` then does what Bitcoin does for a real calendar: it builds a
Merkle tree of the pending commitments, puts its tip in an ``OP_RETURN`` output of a
transaction, makes a block (coinbase + that transaction) and returns the block's real
80-byte header, whose Merkle root the completed timestamps now reach.
"""

from __future__ import annotations

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bitcoin.core import CBlock, COutPoint, CScript, CTransaction, CTxIn, CTxOut
from bitcoin.core.script import OP_RETURN
from opentimestamps.bitcoin import make_timestamp_from_block
from opentimestamps.core.notary import PendingAttestation
from opentimestamps.core.op import OpAppend, OpSHA256
from opentimestamps.core.serialize import BytesSerializationContext
from opentimestamps.core.timestamp import Timestamp, make_merkle_tree


class Calendar:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[bytes, Timestamp] = {}
        self._confirmed: dict[bytes, Timestamp] = {}
        self.height = 800_000
        self.submissions = 0
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def submit(self, digest: bytes) -> bytes:
        stamp = Timestamp(digest)
        commitment = stamp.ops.add(OpAppend(os.urandom(16))).ops.add(OpSHA256())
        commitment.attestations.add(PendingAttestation(self.url))
        with self._lock:
            self._pending[commitment.msg] = commitment
            self.submissions += 1
        return _serialize(stamp)

    def lookup(self, commitment: bytes) -> bytes | None:
        with self._lock:
            stamp = self._confirmed.get(commitment)
        return None if stamp is None else _serialize(stamp)

    def confirm(self) -> bytes:
        """Mine the pending commitments into a new block; return its 80-byte header."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self.height += 1
            height = self.height
        stamps = [Timestamp(commitment) for commitment in pending]
        tip = make_merkle_tree(stamps)
        coinbase = CTransaction(
            [CTxIn(COutPoint(), CScript([height.to_bytes(4, "little")]))], [CTxOut(0, CScript())]
        )
        commit_tx = CTransaction(
            [CTxIn(COutPoint(os.urandom(32), 0))], [CTxOut(0, CScript([OP_RETURN, tip.msg]))]
        )
        fields = dict(nVersion=0x20000000, hashPrevBlock=os.urandom(32), nTime=int(time.time()))
        fields.update(nBits=0x1D00FFFF, nNonce=0)
        draft = CBlock(**fields, vtx=[coinbase, commit_tx])
        block = CBlock(**fields, hashMerkleRoot=draft.calc_merkle_root(), vtx=[coinbase, commit_tx])
        proof = make_timestamp_from_block(tip.msg, block, height)
        assert proof is not None, "the tip must be found in the block's transactions"
        tip.merge(proof)
        with self._lock:
            for stamp in stamps:
                self._confirmed[stamp.msg] = stamp
        header: bytes = block.get_header().serialize()
        return header

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _serialize(stamp: Timestamp) -> bytes:
    ctx = BytesSerializationContext()
    stamp.serialize(ctx)
    data: bytes = ctx.getbytes()
    return data


def _handler(calendar: Calendar) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            if self.path != "/digest" or not 1 <= length <= 64:
                self._reply(400, b"bad request")
                return
            self._reply(200, calendar.submit(self.rfile.read(length)))

        def do_GET(self) -> None:
            prefix = "/timestamp/"
            if not self.path.startswith(prefix):
                self._reply(404, b"Not found")
                return
            try:
                commitment = bytes.fromhex(self.path[len(prefix) :])
            except ValueError:
                self._reply(400, b"bad commitment")
                return
            found = calendar.lookup(commitment)
            if found is None:
                self._reply(404, b"Pending confirmation in Bitcoin blockchain")
            else:
                self._reply(200, found)

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.opentimestamps.v1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
