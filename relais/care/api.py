"""The REST API of this part (mounted by relais/api/api.py)."""

from ninja import Router

from relais.care.api_routing import router as routing_router

router = Router(tags=["care"])
router.add_router("", routing_router)  # routing part
