"""One Triager per organisation, built from its network and rebuilt when a new feed is loaded."""

from __future__ import annotations

import threading

from relais.triage.engine import Triager
from relais.triage.entities import NetworkLexicon

_lock = threading.Lock()
_cache: dict[int, tuple[int, Triager]] = {}

ORG_LANGUAGES = ("fr", "en")


def triager_for(organization_id: int) -> Triager:
    from relais.transit.models import Feed

    latest = (
        Feed.objects.filter(organization_id=organization_id)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
        or 0
    )
    with _lock:
        cached = _cache.get(organization_id)
        if cached and cached[0] == latest:
            return cached[1]
    triager = Triager(NetworkLexicon.for_organization(organization_id), languages=ORG_LANGUAGES)
    with _lock:
        _cache[organization_id] = (latest, triager)
    return triager
