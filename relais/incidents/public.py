"""Public pages and feeds, no sign-in: what passengers and their apps read."""

from __future__ import annotations

from django.contrib.syndication.views import Feed
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from google.protobuf import json_format

from relais.accounts.models import Organization
from relais.incidents import feeds
from relais.incidents.models import Incident
from relais.publishing.models import Publication


def _organization(slug: str | None) -> Organization:
    if not slug:
        raise Http404("Name the organisation: /o/<slug>/gtfs-rt/alerts.pb or ?org=<slug>.")
    return get_object_or_404(Organization, slug=slug)


@require_GET
@never_cache
def gtfs_alerts(request: HttpRequest, org: str | None = None) -> HttpResponse:
    """GTFS-realtime Service Alerts; ?format=json for people and debugging."""
    organization = _organization(org or request.GET.get("org"))
    message = feeds.build_alerts_feed(organization=organization)
    if request.GET.get("format") == "json":
        return JsonResponse(
            json_format.MessageToDict(message, preserving_proto_field_name=True),
            json_dumps_params={"ensure_ascii": False},
        )
    response = HttpResponse(message.SerializeToString(), content_type="application/x-protobuf")
    response["Access-Control-Allow-Origin"] = "*"  # journey planners fetch it from anywhere
    return response


@require_GET
def incident_list(request: HttpRequest, org: str) -> HttpResponse:
    organization = _organization(org)
    return render(
        request,
        "incidents/public_list.html",
        {"org": organization, "incidents": feeds.public_incidents(organization=organization)},
    )


@require_GET
def incident_detail(request: HttpRequest, org: str, incident_id: int) -> HttpResponse:
    organization = _organization(org)
    incident = get_object_or_404(Incident, organization=organization, pk=incident_id)
    publications = Publication.objects.filter(
        incident=incident, state__in=feeds.PUBLISHED_STATES
    ).order_by("requested_at", "pk")
    return render(
        request,
        "incidents/public_detail.html",
        {"org": organization, "incident": incident, "publications": publications},
    )


class AlertsFeed(Feed):
    """RSS 2.0 of what was published about incidents (alerts, updates, back to normal)."""

    def get_object(self, request, org: str) -> Organization:
        return _organization(org)

    def title(self, obj: Organization) -> str:
        return _("%(name)s: traffic alerts") % {"name": obj.name}

    def link(self, obj: Organization) -> str:
        return reverse("public:incidents", kwargs={"org": obj.slug})

    def description(self, obj: Organization) -> str:
        return _("Alerts, updates and back-to-normal messages of %(name)s.") % {"name": obj.name}

    def items(self, obj: Organization):
        return feeds.recent_publications(organization=obj)

    def item_title(self, item: Publication) -> str:
        title = item.incident.title if item.incident else ""
        return f"{item.get_kind_display()} — {title}" if title else str(item.get_kind_display())

    def item_description(self, item: Publication) -> str:
        return item.text

    def item_link(self, item: Publication) -> str:
        if item.incident_id:
            return reverse(
                "public:incident",
                kwargs={"org": item.organization.slug, "incident_id": item.incident_id},
            )
        return reverse("public:incidents", kwargs={"org": item.organization.slug})

    def item_guid(self, item: Publication) -> str:
        return f"relais-publication-{item.pk}"

    item_guid_is_permalink = False

    def item_pubdate(self, item: Publication):
        return item.requested_at or item.created_at


class AlertsAtomFeed(AlertsFeed):
    feed_type = Atom1Feed

    def subtitle(self, obj: Organization) -> str:
        return self.description(obj)
