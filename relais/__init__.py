"""Relais: a desk for the people who speak for a public service on social media."""
