"""Witnesses: brand partners cosign the log's checkpoints (C2SP tlog-witness).

* :mod:`witness.note`        signed-note framing and the tlog-checkpoint body, any log
* :mod:`witness.cosignature` ``cosignature/v1`` keys, lines and their verification
* :mod:`witness.protocol`    the ``add-checkpoint`` request and response texts
* :mod:`witness.state`       the witness's durable per-log state and its evidence
* :mod:`witness.core`        the witness's decision for one request
* :mod:`witness.server`      the HTTP server behind ``assay witness serve``
* :mod:`witness.client`      a log asking N witnesses at once, catching them up
* :mod:`witness.policy`      C2SP tlog-policy files and quorum evaluation
* :mod:`witness.timestamps`  OpenTimestamps proofs of a checkpoint
* :mod:`witness.stamper`     the anchor's timestamping thread
* :mod:`witness.submitter`   the anchor's witnessing thread: each checkpoint out, cosigned
* :mod:`witness.publishing`  the checkpoint file and the anchor's witness status file
* :mod:`witness.witnessing_metrics`  Prometheus families of the anchor's witnessing

Formats and operations are specified in ``docs/witnesses.md``.
"""
