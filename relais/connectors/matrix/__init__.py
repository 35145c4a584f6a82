"""Matrix: a room as a channel, through matrix-nio (polling /sync, sending with txn ids)."""
