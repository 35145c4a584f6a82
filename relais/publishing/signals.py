"""Signals of the publishing part, so that other pieces react without being imported here."""

from django.dispatch import Signal

# Sent on commit when a publication starts going out (alert, update, closing or post):
# subscribers (SMS, e-mail) of its lines receive it. kwargs: publication_id
publication_started = Signal()
