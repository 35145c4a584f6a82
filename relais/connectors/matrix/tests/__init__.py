"""Tests of the Matrix connector against a real local Synapse."""
