"""Benchmarks (run as scripts) and the suite that runs them all (`suite.py`, `scripts/bench`);
`_cpu`, `_procstats`, `_rig`, `_preload` and `_results` are what they share."""
