"""Plays a scenario file (JSON Lines) into an account, in real or accelerated time."""
