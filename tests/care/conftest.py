"""Care fixtures: a settable clock, SLA defaults, conversations fed through the pipeline."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from relais.care.models import SlaPolicy
from relais.care.sla import DEFAULT_POLICIES
from relais.channels.ingest import ingest
from relais.channels.pipeline import process_pending
from relais.common.testing import inbound

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _english():
    """Texts made outside a request (alerts, notes, problems) in English, whatever the
    default language; pages keep their own (French by default)."""
    from django.utils import translation

    with translation.override("en"):
        yield


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(monkeypatch):
    """Every `now()` the care and inbox writes read, set by the test."""
    c = Clock(paris(2026, 3, 10, 9, 0))  # a Tuesday
    for module in (
        "relais.inbox.actions",
        "relais.care.actions",
        "relais.care.receivers",
        "relais.care.views",
        "relais.care.templatetags.care",
    ):
        monkeypatch.setattr(f"{module}.now", c)
    return c


@pytest.fixture
def policies(personas):
    return [
        SlaPolicy.objects.create(
            organization=personas.org,
            name=name,
            network=network,
            audience=audience,
            first_response_minutes=first,
            next_response_minutes=nxt,
        )
        for name, network, audience, first, nxt in DEFAULT_POLICIES
    ]


def receive(account, text="Mon train est bloqué, je vais rater ma correspondance", **kw):
    ingest(account=account, messages=[inbound(text, **kw)])
    process_pending()
