"""Mastodon: mentions and direct messages polled from notifications, replies and posts, through Mastodon.py."""
