"""Public URLs (no sign-in): passenger feeds and pages per organisation."""

from django.urls import path

from relais.incidents import public

app_name = "public"
urlpatterns = [
    # The URL, with ?org=<slug>; the per-organisation one below is canonical.
    path("gtfs-rt/alerts.pb", public.gtfs_alerts, name="gtfs-alerts"),
    path("o/<slug:org>/gtfs-rt/alerts.pb", public.gtfs_alerts, name="gtfs-alerts-org"),
    path("o/<slug:org>/alerts/", public.incident_list, name="incidents"),
    path("o/<slug:org>/alerts/<int:incident_id>/", public.incident_detail, name="incident"),
    path("o/<slug:org>/alerts.rss", public.AlertsFeed(), name="rss"),
    path("o/<slug:org>/alerts.atom", public.AlertsAtomFeed(), name="atom"),
]
