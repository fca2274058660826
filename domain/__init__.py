"""The custody domain: items, parties and devices, rules and counterfeit signals.

Pure Python on the ``eventsourcing`` library's aggregates; no Kafka, Avro, DuckDB or SQL
(tests/domain/test_purity.py keeps it so). Read in this order: ``custody`` (the event value,
roles and kinds) → ``parties`` → ``items`` (rules as ``check_*`` guards, signals as flags) with
its ``state`` and ``signals`` → ``tags`` (a tag uid's first item) → ``story`` (history as
sentences). The rules in plain language: docs/custody-rules.md.
"""
