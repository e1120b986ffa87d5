"""evidock ingest subsystem."""
