"""Development and test tooling, kept out of the production packages: the local Kafka
broker that ``assay broker``, ``assay demo`` and the test suite start on loopback."""
