"""Subscribers: people who receive the alerts of their lines by SMS or e-mail."""
