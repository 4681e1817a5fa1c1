"""Ingest paths of the GPS plugin: servers that receive what devices send and hand it to a sink."""
