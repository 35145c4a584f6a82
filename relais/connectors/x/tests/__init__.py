"""Tests of the x connector."""
