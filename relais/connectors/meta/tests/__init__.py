"""Tests of the meta connector."""
