"""Bluesky (AT Protocol): notifications by polling, posts and replies with rich-text facets."""
