from django.dispatch import Signal

crisis_mode_changed = Signal()
