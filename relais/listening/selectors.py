"""Reads of the listening part that other parts call."""

from relais.listening.models import CrisisMode


def crisis_active(*, organization_id: int) -> bool:
    """Is the organisation in crisis mode? The publishing part holds promotional posts then."""
    return CrisisMode.objects.filter(organization_id=organization_id, active=True).exists()
