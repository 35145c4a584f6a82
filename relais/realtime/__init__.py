"""Live updates: typed events sent after commit, fanned out to browsers by server-sent events."""
