# Mastodon connector tests: the mastodon_mock stand-in server (FastAPI) in its own venv,
# since it is not in our lock. No real Mastodon server installs here. ~15 s the first time.
MASTODON_MOCK_VERSION := 0.6.1
PEER_PYTHON ?= $(shell command -v python3.11 || command -v python3)
MASTODON_MOCK_VENV := var/peers/mastodon_mock
MASTODON_MOCK_STAMP := $(MASTODON_MOCK_VENV)/.installed-$(MASTODON_MOCK_VERSION)

PEERS += peers-mastodon
.PHONY: peers-mastodon
peers-mastodon: $(MASTODON_MOCK_STAMP)

$(MASTODON_MOCK_STAMP):
	@mkdir -p var/peers
	test -x $(MASTODON_MOCK_VENV)/bin/python || $(PEER_PYTHON) -m venv $(MASTODON_MOCK_VENV)
	$(MASTODON_MOCK_VENV)/bin/pip install -q --disable-pip-version-check \
	  "mastodon_mock==$(MASTODON_MOCK_VERSION)" "uvicorn"
	@rm -f $(MASTODON_MOCK_VENV)/.installed-*
	@touch $@
