"""Listening: monitors, volume buckets, burst detection, on-call alerts and crisis mode."""
