# SMS connector peer: a small SMSC simulator on npm `smpp` (tests/peers/smpp), installed with
# `npm ci` from its lock file; re-installed only when the lock file changes.
PEERS += peers-sms

SMS_PEER_STAMP := tests/peers/smpp/node_modules/.relais-stamp

peers-sms: $(SMS_PEER_STAMP)

$(SMS_PEER_STAMP): tests/peers/smpp/package-lock.json tests/peers/smpp/package.json
	cd tests/peers/smpp && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
