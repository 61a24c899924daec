"""Benchmarks (run as scripts); `_cpu` is what they share."""
