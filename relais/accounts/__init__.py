"""Organisations, teams, memberships with roles, API tokens, the audit log and permissions."""
