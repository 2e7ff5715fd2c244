"""Benchmarks: the full broker path against a raw gRPC two-hop baseline, in one run."""
