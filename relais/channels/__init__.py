"""Accounts on networks, the connector contract and registry, the ingest and delivery paths."""
