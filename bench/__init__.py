"""Benchmarks: plain scripts that print figures and a one-line summary (see docs/performance.md)."""
