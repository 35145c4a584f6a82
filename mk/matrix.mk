# Matrix connector tests: a real Synapse homeserver (SQLite) in its own venv, since
# matrix-synapse is not in our lock. ~50 s the first time, instant when installed.
SYNAPSE_VERSION := 1.163.2
PEER_PYTHON ?= $(shell command -v python3.11 || command -v python3)
SYNAPSE_VENV := var/peers/synapse
SYNAPSE_STAMP := $(SYNAPSE_VENV)/.installed-$(SYNAPSE_VERSION)

PEERS += peers-matrix
.PHONY: peers-matrix
peers-matrix: $(SYNAPSE_STAMP)

$(SYNAPSE_STAMP):
	@mkdir -p var/peers
	test -x $(SYNAPSE_VENV)/bin/python || $(PEER_PYTHON) -m venv $(SYNAPSE_VENV)
	$(SYNAPSE_VENV)/bin/pip install -q --disable-pip-version-check "matrix-synapse==$(SYNAPSE_VERSION)"
	@rm -f $(SYNAPSE_VENV)/.installed-*
	@touch $@
