"""Publications: alerts, updates, scheduled posts; fan-out to every channel, feeds, subscribers, calendar."""
