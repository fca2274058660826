"""The custody domain: items, parties and devices, rules and counterfeit signals.

Pure Python on the ``eventsourcing`` library's aggregates; no Kafka, Avro, DuckDB or SQL.
"""
