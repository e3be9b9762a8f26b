# The two set-up commands of the README: `make demo` and `make check`.
# Both set themselves up on a fresh clone with nothing but python3 (3.10+): the first run
# creates a project-local virtual environment, .venv, and installs the project into it
# (`pip install -e '.[test]'`); every target then runs with that Python. The install is
# redone when pyproject.toml changes. `make PYTHON=/some/python test` uses another
# interpreter as it is (no venv, no install).
BASE_PYTHON ?= python3
VENV ?= .venv
VENV_PYTHON := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
PYTHON = $(VENV_PYTHON)
# The venv is a prerequisite only when it is the Python in use.
SETUP = $(if $(filter $(VENV_PYTHON),$(PYTHON)),$(VENV_STAMP))
# The console script `kubectl-netdoctor` of the Python in use, first on PATH, so that
# `kubectl netdoctor ...` run by the e2e tests is this checkout.
TOOL_PATH = PATH="$(abspath $(dir $(PYTHON))):$$PATH"

.PHONY: install venv demo test e2e e2e-netpol e2e-nftables check cluster-up cluster-down

install venv: $(SETUP)

$(VENV_STAMP): pyproject.toml
	@command -v $(BASE_PYTHON) >/dev/null 2>&1 || \
		{ echo "make: $(BASE_PYTHON) not found: install Python 3.10+ (Debian/Ubuntu: apt-get install python3 python3-venv)" >&2; exit 1; }
	@$(BASE_PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "make: $(BASE_PYTHON) is $$($(BASE_PYTHON) -V 2>&1); kubectl-netdoctor needs Python 3.10+" >&2; exit 1; }
	@$(BASE_PYTHON) -c 'import venv, ensurepip' 2>/dev/null || \
		{ echo "make: '$(BASE_PYTHON) -m venv' is unavailable: install the venv module (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
	@if ! $(VENV_PYTHON) -m pip --version >/dev/null 2>&1; then \
		echo "make: creating $(VENV) ($$($(BASE_PYTHON) -V 2>&1))"; \
		rm -rf $(VENV); \
		$(BASE_PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "make: '$(BASE_PYTHON) -m venv $(VENV)' failed (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }; \
	fi
	@echo "make: installing kubectl-netdoctor and its test dependencies into $(VENV) (pip install -e '.[test]')"
	$(VENV_PYTHON) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

# Offline demo on the bundled snapshots of broken Services (no cluster needed). Fails if
# any example's exit code is not the one it should give.
demo: $(SETUP)
	PYTHON="$(PYTHON)" ./examples/demo

# Lint, then the unit, parser, golden and CLI tests: no cluster.
test: $(SETUP)
	$(PYTHON) -m ruff check kubectl_netdoctor tests e2e
	$(PYTHON) -m pytest tests -m "not e2e" -q

# The real cluster from source (e2e/cluster/up) and the e2e suite (e2e/suite/) against it. The fault
# catalogue's scenarios run several at once (NETDOCTOR_E2E_SCENARIO_WORKERS, default 8), the ones
# marked `shared: true` alone, last.
e2e: $(SETUP)
	$(TOOL_PATH) $(PYTHON) -m pytest e2e/suite -m e2e -v

# The live NetworkPolicy conformance matrix: the tool's evaluator against the cluster's enforcer
# (kube-router), cell by cell; ends with "netpol conformance: N cases, M disagreements".
e2e-netpol: $(SETUP)
	$(TOOL_PATH) $(PYTHON) e2e/scripts/netpol_conformance.py

# The fault catalogue again with kube-proxy in nftables mode (e2e/cluster/up restarts the
# cluster in that mode, ~20 s; the next `make e2e` switches it back).
e2e-nftables: $(SETUP)
	$(TOOL_PATH) KUBE_PROXY_MODE=nftables NETDOCTOR_E2E_RESULTS=e2e/results/nftables $(PYTHON) -m pytest e2e/suite/test_scenarios.py -m e2e -v

# What CI runs: everything.
check: test e2e e2e-netpol e2e-nftables

cluster-up:
	e2e/cluster/up

cluster-down:
	e2e/cluster/down
