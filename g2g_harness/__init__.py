"""Local harness: a whole federation on free ports (tests, demo, benchmarks); not for production."""
