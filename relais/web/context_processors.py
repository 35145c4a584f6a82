"""Puts the acting membership (organisation and role) and broken accounts in every template."""

from relais.accounts.permissions import current_membership


def relais(request):
    membership = current_membership(request) if hasattr(request, "user") else None
    if membership is None:
        return {
            "membership": None,
            "organization": None,
            "broken_accounts": [],
            "crisis": None,
            "listening_open_alerts": 0,
        }
    from relais.channels.health import broken_accounts
    from relais.listening.selectors import listening_context

    return {
        "membership": membership,
        "organization": membership.organization,
        # A channel that cannot receive or send is everyone's business: shown on every page.
        "broken_accounts": broken_accounts(membership.organization_id),
        # Crisis mode: a banner for everyone; open burst alerts: a reminder until acknowledged.
        **listening_context(membership.organization_id),
    }
