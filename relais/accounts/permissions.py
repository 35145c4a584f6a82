"""Fetch-and-authorise helpers: tenant isolation lives here and nowhere else."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from relais.accounts.models import ANSWERING_ROLES, Membership, Role

SESSION_ORG_KEY = "relais_org_id"


def current_membership(request, user=None) -> Membership | None:
    """The membership the person is acting in: the organisation chosen in the session, or
    their first one."""
    user = user or request.user
    if not user.is_authenticated:
        return None
    # The view and the template context both ask: one query per request, not two.
    cached = getattr(request, "_relais_membership", None)
    if cached is not None and cached.user_id == user.pk:
        return cached
    memberships = Membership.objects.filter(user=user).select_related("organization", "user")
    chosen = request.session.get(SESSION_ORG_KEY) if hasattr(request, "session") else None
    found = memberships.filter(organization_id=chosen).first() if chosen else None
    found = found or memberships.order_by("organization_id").first()
    if found is not None:
        request._relais_membership = found
    return found


def require_role(membership: Membership, roles: set[Role] | set[str]) -> None:
    if membership.role not in roles:
        raise PermissionDenied("Your role does not allow this.")


def require_answering(membership: Membership) -> None:
    require_role(membership, ANSWERING_ROLES)


def access_conversation(membership: Membership, conversation_id: int, *, for_update: bool = False):
    from relais.inbox.models import Conversation

    qs = Conversation.objects.filter(organization_id=membership.organization_id)
    if for_update:
        qs = qs.select_for_update(of=("self",))  # assignee/team are outer joins
    try:
        return qs.select_related("contact", "account", "assignee", "team").get(pk=conversation_id)
    except Conversation.DoesNotExist:
        # Same answer for "not yours" and "does not exist": ids leak nothing.
        raise Http404("No such conversation.") from None


def access_channel_account(membership: Membership, account_id: int):
    from relais.channels.models import ChannelAccount

    try:
        return ChannelAccount.objects.get(organization_id=membership.organization_id, pk=account_id)
    except ChannelAccount.DoesNotExist:
        raise Http404("No such account.") from None


def access_member(membership: Membership, user_id: int) -> Membership:
    try:
        return Membership.objects.select_related("user").get(
            organization_id=membership.organization_id, user_id=user_id
        )
    except Membership.DoesNotExist:
        raise Http404("No such member of this organisation.") from None


def access_team(membership: Membership, team_id: int):
    from relais.accounts.models import Team

    try:
        return Team.objects.get(organization_id=membership.organization_id, pk=team_id)
    except Team.DoesNotExist:
        raise Http404("No such team.") from None


def access_incident(membership: Membership, incident_id: int, *, for_update: bool = False):
    from relais.incidents.models import Incident

    qs = Incident.objects.filter(organization_id=membership.organization_id)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    try:
        return qs.get(pk=incident_id)
    except Incident.DoesNotExist:
        raise Http404("No such incident.") from None


def access_template(membership: Membership, template_id: int):
    from relais.wording.models import Template

    try:
        return Template.objects.get(organization_id=membership.organization_id, pk=template_id)
    except Template.DoesNotExist:
        raise Http404("No such template.") from None


def access_publication(membership: Membership, publication_id: int, *, for_update: bool = False):
    from relais.publishing.models import Publication

    qs = Publication.objects.filter(organization_id=membership.organization_id)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    try:
        return qs.select_related("author", "approved_by").get(pk=publication_id)
    except Publication.DoesNotExist:
        raise Http404("No such publication.") from None


def access_neutrality_person(membership: Membership, person_id: int):
    from relais.publishing.models import NeutralityPerson

    try:
        return NeutralityPerson.objects.get(
            organization_id=membership.organization_id, pk=person_id
        )
    except NeutralityPerson.DoesNotExist:
        raise Http404("No such person.") from None


def access_routing_rule(membership: Membership, rule_id: int):
    from relais.care.models import RoutingRule

    try:
        return RoutingRule.objects.get(organization_id=membership.organization_id, pk=rule_id)
    except RoutingRule.DoesNotExist:
        raise Http404("No such routing rule.") from None
