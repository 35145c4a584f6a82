"""Incidents: a ticket per disruption, with its lines and stops, timeline and linked conversations."""
