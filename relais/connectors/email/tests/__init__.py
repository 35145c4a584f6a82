"""Tests of the e-mail connector, against a real SMTP (aiosmtpd) and IMAP (dovecot) peer."""
