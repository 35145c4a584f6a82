"""Tests of the SMS connector: a real SMPP peer (npm smpp simulator) and the HTTP gateway."""
