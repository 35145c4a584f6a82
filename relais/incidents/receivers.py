"""Reactions of the incidents part to other parts' signals (they never import this part)."""

import logging

from django.dispatch import receiver

from relais.listening.signals import crisis_mode_changed

logger = logging.getLogger(__name__)


@receiver(crisis_mode_changed)
def on_crisis_mode_changed(
    sender, organization_id: int, active: bool, by_user_id=None, reason: str = "", **kwargs
) -> None:
    """Crisis mode on with no incident active: open one (high severity), so that the crisis
    has its ticket, timeline and publications from the first minute."""
    if not active:
        return
    from relais.incidents.actions import incident_open_for_crisis

    incident = incident_open_for_crisis(
        organization_id=organization_id, by_user_id=by_user_id, reason=reason or ""
    )
    if incident is not None:
        logger.info(
            "crisis mode: incident %s opened for organisation %s", incident.pk, organization_id
        )
