"""Signals other parts connect to (sent on commit, never inside the switching transaction)."""

from django.dispatch import Signal

#: Crisis mode was switched on or off. kwargs: organization_id (int), active (bool),
#: by_user_id (int or None), reason (str). The incidents part opens an incident on it.
crisis_mode_changed = Signal()
