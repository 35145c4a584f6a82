"""X (formerly Twitter) through API v2, with tweepy."""
