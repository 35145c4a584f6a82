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


def access_in_organization(
    membership: Membership, queryset, pk: int, *, what: str, for_update: bool = False
):
    """One object of the person's organisation, or 404 with the same words whether it is
    missing or another organisation's. `queryset` is a model's manager or a queryset with
    the joins the caller needs; `what` names it in the 404 ("No such <what>.")."""
    qs = queryset.filter(organization_id=membership.organization_id)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    try:
        return qs.get(pk=pk)
    except qs.model.DoesNotExist:
        raise Http404(f"No such {what}.") from None


def access_channel_account(membership: Membership, account_id: int):
    from relais.channels.models import ChannelAccount

    return access_in_organization(membership, ChannelAccount.objects, account_id, what="account")


def access_member(membership: Membership, user_id: int) -> Membership:
    try:
        return Membership.objects.select_related("user").get(
            organization_id=membership.organization_id, user_id=user_id
        )
    except Membership.DoesNotExist:
        raise Http404("No such member of this organisation.") from None


def access_team(membership: Membership, team_id: int):
    from relais.accounts.models import Team

    return access_in_organization(membership, Team.objects, team_id, what="team")


def access_incident(membership: Membership, incident_id: int, *, for_update: bool = False):
    from relais.incidents.models import Incident

    return access_in_organization(
        membership, Incident.objects, incident_id, what="incident", for_update=for_update
    )


def access_template(membership: Membership, template_id: int):
    from relais.wording.models import Template

    return access_in_organization(membership, Template.objects, template_id, what="template")


def access_publication(membership: Membership, publication_id: int, *, for_update: bool = False):
    from relais.publishing.models import Publication

    return access_in_organization(
        membership,
        Publication.objects.select_related("author", "approved_by"),
        publication_id,
        what="publication",
        for_update=for_update,
    )


def access_neutrality_person(membership: Membership, person_id: int):
    from relais.publishing.models import NeutralityPerson

    return access_in_organization(membership, NeutralityPerson.objects, person_id, what="person")


def access_routing_rule(membership: Membership, rule_id: int):
    from relais.care.models import RoutingRule

    return access_in_organization(membership, RoutingRule.objects, rule_id, what="routing rule")
