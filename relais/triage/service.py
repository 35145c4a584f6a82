"""One Triager per organisation, built from its network and its trained models, and rebuilt
when a new feed is loaded or a new model becomes active."""

from __future__ import annotations

import threading

from relais.triage.engine import Triager
from relais.triage.entities import NetworkLexicon

_lock = threading.Lock()
_cache: dict[int, tuple[tuple, Triager]] = {}

ORG_LANGUAGES = ("fr", "en")


def triager_for(organization_id: int) -> Triager:
    from relais.transit.models import Feed
    from relais.triage.models import TriageModel

    feed = (
        Feed.objects.filter(organization_id=organization_id)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    active = dict(
        TriageModel.objects.filter(organization_id=organization_id, active=True)
        .order_by("pk")
        .values_list("field", "pk")
    )
    version = (feed or 0, tuple(sorted(active.items())))
    with _lock:
        cached = _cache.get(organization_id)
        if cached and cached[0] == version:
            return cached[1]
    models = {m.field: bytes(m.blob) for m in TriageModel.objects.filter(pk__in=active.values())}
    triager = Triager(
        NetworkLexicon.for_organization(organization_id), languages=ORG_LANGUAGES, models=models
    )
    with _lock:
        _cache[organization_id] = (version, triager)
    return triager
