"""Triage: language, intent, sentiment, urgency, priority and the network's lines and stops."""
