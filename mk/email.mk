# E-mail connector peer: Debian's dovecot-imapd (IMAP); the SMTP side is aiosmtpd, already in
# the dev dependencies. Installed once; the stamp makes a second run instant.
PEERS += peers-email

EMAIL_PEER_STAMP := var/peers/email/.stamp

peers-email: $(EMAIL_PEER_STAMP)

$(EMAIL_PEER_STAMP):
	@command -v dovecot >/dev/null || test -x /usr/sbin/dovecot || { \
	  $(APT_GET) update -qq && $(APT_GET) install --no-install-recommends dovecot-imapd; }
	@mkdir -p $(dir $@) && touch $@
