"""Who is calling the API: a bearer token or a signed-in session, resolved to a Membership.

Every authenticated operation sees `request.auth` as the Membership it acts in, so the
`access_*` helpers scope each lookup to that membership's organisation.
"""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from relais.accounts.models import ApiToken, Membership
from relais.accounts.permissions import current_membership
from relais.common.timeutils import now

# last_used_at is for "is this token still in use?", not an access log: writing it at most
# once a minute keeps a busy integration from turning every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenAuth(HttpBearer):
    """`Authorization: Bearer rl_…`: the token's membership is the acting identity."""

    def authenticate(self, request: HttpRequest, token: str) -> Membership | None:
        token = token.strip()
        if not token:
            return None
        found = (
            ApiToken.objects.select_related("membership__organization", "membership__user")
            .filter(key_hash=ApiToken.hash(token))
            .first()
        )
        # The lookup is by hash (unique index), so timing reveals nothing about the key.
        if found is None or not found.membership.user.is_active:
            return None
        t = now()
        if found.last_used_at is None or found.last_used_at < t - LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=t)
        return found.membership


class SessionMembershipAuth(APIKeyCookie):
    """The browser's Django session (for the UI), with Django's CSRF check on writes.

    Unlike ninja's SessionAuth, a request with no signed-in session is simply not ours:
    it gets the API's 401, not a CSRF 403 that would hide the real problem. A request that
    carries an Authorization header is left to the token check alone, so a wrong token is
    never rescued by a session cookie sent along with it.
    """

    param_name = "sessionid"

    def __init__(self) -> None:
        from django.conf import settings

        self.param_name = settings.SESSION_COOKIE_NAME
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Membership | None:
        if "authorization" in request.headers:
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if check_csrf(request) is not None:
            raise HttpError(
                403, "CSRF check failed: send the csrftoken cookie's value in X-CSRFToken."
            )
        return current_membership(request)


token_auth = TokenAuth()
session_auth = SessionMembershipAuth()
API_AUTH = [token_auth, session_auth]
