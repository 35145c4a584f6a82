"""Tests of the Mastodon connector against the mastodon_mock stand-in server."""
