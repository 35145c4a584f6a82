"""The public subscription pages of an organisation (no sign-in: double opt-in instead),
and the staff's overview of subscribers."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.http import require_http_methods

from relais.accounts.models import Organization
from relais.accounts.permissions import current_membership
from relais.publishing.models import (
    Subscriber,
    SubscriberBroadcast,
    SubscriberChannel,
    SubscriberMessage,
    SubscriberState,
)
from relais.publishing.subscribers import actions
from relais.transit.models import Route


def _ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _routes(organization: Organization):
    return Route.objects.filter(organization=organization).order_by("sort_order", "short_name")


def _ids(values: list[str]) -> list[int]:
    out = []
    for value in values:
        try:
            out.append(int(value))
        except ValueError:
            out.append(-1)  # refused as an unknown line, not silently dropped
    return out


@require_http_methods(["GET", "POST"])
def subscribe_view(request: HttpRequest, slug: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=slug)
    sms = actions.sms_account_for(organization.pk) is not None
    values = {"channel": "sms" if sms else "email", "address": ""}
    chosen: list[int] = []
    error = ""
    if request.method == "POST":
        values = {
            "channel": request.POST.get("channel", ""),
            "address": request.POST.get("address", "")[:300],
        }
        chosen = _ids(request.POST.getlist("lines"))
        try:
            outcome = actions.subscribe_request(
                organization=organization,
                channel=values["channel"],
                address=values["address"],
                line_ids=chosen,
                language=(get_language() or "fr")[:2],
                client_ip=_ip(request),
            )
        except actions.SubscribeError as exc:
            error = str(exc)
        else:
            return render(
                request,
                "publishing/subscribe_sent.html",
                {
                    "org": organization,
                    "outcome": outcome,
                    "address": outcome.subscriber.address,
                    "sms": outcome.subscriber.channel == SubscriberChannel.SMS,
                },
            )
    return render(
        request,
        "publishing/subscribe.html",
        {
            "org": organization,
            "routes": _routes(organization),
            "sms": sms,
            "values": values,
            "chosen": chosen,
            "error": error,
        },
        status=400 if error else 200,
    )


@require_http_methods(["POST"])
def subscribe_confirm_view(request: HttpRequest, slug: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=slug)
    address = request.POST.get("address", "")[:300]
    try:
        subscriber = actions.confirm_code(
            organization=organization,
            address=address,
            code=request.POST.get("code", "")[:20],
            client_ip=_ip(request),
        )
    except actions.SubscribeError as exc:
        return render(
            request,
            "publishing/subscribe_sent.html",
            {"org": organization, "address": address, "sms": True, "error": str(exc)},
            status=400,
        )
    return render(
        request,
        "publishing/subscribe_done.html",
        {"org": organization, "subscriber": subscriber, "lines": subscriber.lines.all()},
    )


def subscribe_email_confirm_view(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=slug)
    if request.method != "POST":
        # Mail scanners follow links: the confirmation is a button, not the GET itself.
        return render(
            request, "publishing/subscribe_link.html", {"org": organization, "confirm": True}
        )
    try:
        subscriber = actions.confirm_token(organization=organization, token=token[:100])
    except actions.SubscribeError as exc:
        return render(
            request,
            "publishing/subscribe_link.html",
            {"org": organization, "error": str(exc)},
            status=404,
        )
    return render(
        request,
        "publishing/subscribe_done.html",
        {"org": organization, "subscriber": subscriber, "lines": subscriber.lines.all()},
    )


def unsubscribe_view(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=slug)
    if request.method != "POST":
        return render(
            request, "publishing/subscribe_link.html", {"org": organization, "leave": True}
        )
    try:
        actions.unsubscribe_token(organization=organization, token=token[:100])
    except actions.SubscribeError as exc:
        return render(
            request,
            "publishing/subscribe_link.html",
            {"org": organization, "error": str(exc)},
            status=404,
        )
    return render(request, "publishing/subscribe_link.html", {"org": organization, "left": True})


@login_required
def subscribers_view(request: HttpRequest) -> HttpResponse:
    """For the staff: how many confirmed subscribers each line has, and the last broadcasts."""
    membership = current_membership(request)
    if membership is None:
        raise PermissionDenied("You are not a member of any organisation.")
    org_id = membership.organization_id
    confirmed = Q(subscribers__state=SubscriberState.CONFIRMED)
    lines = (
        Route.objects.filter(organization_id=org_id)
        .annotate(
            sms=Count("subscribers", filter=confirmed & Q(subscribers__channel="sms")),
            email=Count("subscribers", filter=confirmed & Q(subscribers__channel="email")),
        )
        .filter(Q(sms__gt=0) | Q(email__gt=0))
        .order_by("sort_order", "short_name")
    )
    totals = dict(
        Subscriber.objects.filter(organization_id=org_id)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    broadcasts = list(
        SubscriberBroadcast.objects.filter(organization_id=org_id)
        .select_related("publication")
        .order_by("-created_at")[:20]
    )
    by_state: dict[int, dict[str, int]] = {}
    for broadcast_id, state, n in (
        SubscriberMessage.objects.filter(broadcast__in=broadcasts)
        .values_list("broadcast_id", "state")
        .annotate(n=Count("id"))
    ):
        by_state.setdefault(broadcast_id, {})[state] = n
    for broadcast in broadcasts:
        broadcast.by_state = by_state.get(broadcast.pk, {})  # type: ignore[attr-defined]
    with timezone.override(membership.organization.timezone):
        return render(
            request,
            "publishing/subscribers.html",
            {
                "lines": lines,
                "totals": totals,
                "broadcasts": broadcasts,
                "public_url": request.build_absolute_uri(
                    reverse("publishing:subscribe", kwargs={"slug": membership.organization.slug})
                ),
            },
        )
