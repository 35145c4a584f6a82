"""SMS connector: an SMSC over SMPP (smpplib), or a generic HTTP SMS gateway with signed webhooks."""
