"""Retention: how long events are kept, and the purge that removes them afterwards."""
