"""The example deployment (registry, broker config, policies, policy tests).

Installed as the package data of `g2g_harness.starter`: `g2g init` copies it and
the local federation (`g2g demo`, tests, benchmarks) runs it. No code lives here.
"""
