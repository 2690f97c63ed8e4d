"""Benchmarks (not tests): `make bench` or `python -m bench`. See bench/RESULTS.md."""
