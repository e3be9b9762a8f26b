# The two set-up commands of the README: `make demo` and `make check`.
PYTHON ?= python3

.PHONY: install demo test e2e e2e-nftables check cluster-up cluster-down

install:
	$(PYTHON) -m pip install -q -e '.[test]'

# Offline demo on the bundled snapshots of broken Services (no cluster needed).
demo:
	./examples/demo

# Unit, parser, golden and CLI tests: no cluster, a few seconds.
test:
	$(PYTHON) -m pytest tests -m "not e2e" -q

# The real cluster from source (e2e/cluster/up) and the e2e suite against it.
e2e:
	$(PYTHON) -m pytest e2e -m e2e -v

# The fault catalogue again with kube-proxy in nftables mode (e2e/cluster/up restarts the
# cluster in that mode, ~20 s; the next `make e2e` switches it back).
e2e-nftables:
	KUBE_PROXY_MODE=nftables NETDOCTOR_E2E_RESULTS=e2e/results/nftables $(PYTHON) -m pytest e2e/test_scenarios.py -m e2e -v

# What CI runs: everything.
check: test e2e e2e-nftables

cluster-up:
	e2e/cluster/up

cluster-down:
	e2e/cluster/down
