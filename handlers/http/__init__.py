"""The HTTP API (FastAPI): intake, reads, health."""
