"""Ingestion: from the platform's request bytes to durably committed, sequenced events."""
