"""Benchmarks: every hot path measured against a baseline in the same run (``make bench``)."""
