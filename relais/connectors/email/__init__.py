"""E-mail connector: IMAP polling in, SMTP replies out, threaded by Message-ID and References."""
