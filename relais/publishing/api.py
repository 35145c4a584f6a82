"""The REST API of this part (mounted by relais/api/api.py)."""

from ninja import Router

router = Router(tags=["publishing"])
