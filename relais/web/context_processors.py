"""Puts the acting membership (organisation and role) in every template."""

from relais.accounts.permissions import current_membership


def relais(request):
    membership = current_membership(request) if hasattr(request, "user") else None
    return {
        "membership": membership,
        "organization": membership.organization if membership else None,
    }
