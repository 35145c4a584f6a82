"""A small simulated social network inside Relais, for the demo and the tests."""
