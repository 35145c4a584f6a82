"""One folder per network, each behind the connector contract of relais.channels.contract."""
