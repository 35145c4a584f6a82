"""The demo organisation: a transit operator on the STAR Rennes network, and its scenarios."""
