# g2g: the single entry point. On a fresh machine `make run` and `make test`
# do all the set-up (virtualenv, install, code generation, development PKI).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
GEN    := sdk/g2g_sdk/_gen/__init__.py
PROTOS := $(shell find proto -name '*.proto')
PKI    := var/pki

.PHONY: help install gen pki run demo test fuzz conformance lint check-deploy bench-overload bench bench-quick bench-policy bench-audit eval-screening clean wheels wheel-check

help:
	@echo "make run    - start broker + adapters on localhost (Ctrl-C stops all)"
	@echo "make test   - the full test suite"
	@echo "make demo   - self-contained scripted demo on free ports"
	@echo "make conformance - Node.js consumer/provider (written from docs/ alone) against the Python federation"
	@echo "make lint   - ruff + mypy + buf lint"
	@echo "make fuzz   - the property-based tests, long (a short run is part of make test)"
	@echo "make check-deploy - promtool on the alert rules, systemd-analyze on the units"
	@echo "make bench  - benchmarks (prints a table, writes bench/results/)"
	@echo "make eval-screening - watchlist screening recall/precision/latency"
	@echo "make wheels - build the g2g-sdk and g2g wheels into dist/"
	@echo "make wheel-check - install the wheels outside the checkout and use them (.ci/wheel_job)"

$(STAMP): pyproject.toml sdk/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./sdk -e '.[dev]'
	@touch $@

install: $(STAMP)

$(GEN): $(STAMP) $(PROTOS) proto/generate.py
	$(BIN)/python proto/generate.py

gen: $(GEN)

# Idempotent: creates only what is missing (new agencies get their keys).
pki: $(GEN)
	$(BIN)/g2g pki init --registry config/agencies.yaml --out $(PKI)

run: pki
	$(BIN)/g2g up --config config/broker.yaml

demo: $(GEN)
	$(BIN)/g2g demo

test: $(GEN)
	$(BIN)/pytest -q -p no:cacheprovider

# The property-based tests with many more (random) examples than `make test` runs.
fuzz: $(GEN)
	G2G_HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -p no:cacheprovider -m fuzz

# A consumer and provider in Node.js, built from docs/ and proto/ only, against
# the Python broker, adapter and consumer (conformance/run; needs node + npm).
conformance: $(GEN)
	bash conformance/run

# Deployment files: Prometheus alert rules (promtool, Debian package `prometheus`)
# and the systemd units (systemd-analyze, where installed).
check-deploy:
	promtool check rules deploy/prometheus/g2g-rules.yaml
	promtool test rules deploy/prometheus/g2g-rules.test.yaml
	deploy/systemd/verify.sh

lint: $(GEN)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/buf lint sdk/g2g_sdk/_gen/image.binpb --config proto/buf.yaml --path g2g

bench: $(GEN)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.overload

bench-overload: $(GEN)
	$(BIN)/python -m bench.overload

bench-quick: $(GEN)
	$(BIN)/python -m bench --quick

bench-policy: $(GEN)
	$(BIN)/python bench/bench_policy.py

bench-audit: $(GEN)
	$(BIN)/python bench/bench_audit.py

.PHONY: bench-profile
bench-profile: $(GEN)
	$(BIN)/python -m bench.profile_broker

eval-screening: $(GEN)
	$(BIN)/python -m agency_adapters.immigration.evaluation

# Offline, no build isolation: setuptools comes from the dev dependencies.
wheels: $(GEN)
	rm -rf build sdk/build
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation --no-index --wheel-dir dist ./sdk .
	rm -rf build sdk/build
	@ls -1 dist/*.whl

wheel-check: $(GEN)
	.ci/wheel_job

clean:
	rm -rf $(VENV) sdk/g2g_sdk/_gen var .mypy_cache .ruff_cache .pytest_cache
