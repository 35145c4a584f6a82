"""The NinjaAPI instance; each part contributes a router.

Authentication is a bearer token or the browser's session (see relais.api.auth); errors
answer JSON `{"detail": ...}` with the status a client can act on.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from relais.api.auth import API_AUTH
from relais.care.api import router as care_router
from relais.channels.api import router as channels_router
from relais.channels.api import webhook_router
from relais.inbox.api import router as inbox_router
from relais.incidents.api import router as incidents_router
from relais.listening.api import router as listening_router
from relais.publishing.api import router as publishing_router
from relais.triage.api import router as triage_router
from relais.wording.api import router as wording_router

api = NinjaAPI(
    title="Relais API",
    version="1",
    urls_namespace="api",
    auth=API_AUTH,
    description="Conversations, replies, notes and channel accounts of one organisation. "
    "Authenticate with `Authorization: Bearer <token>` (see `relais apitoken`).",
)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    if "authorization" in request.headers:
        detail = "Invalid or revoked API token."
    else:
        detail = "Authentication required: send Authorization: Bearer <token>, or sign in."
    response = api.create_response(request, {"detail": detail}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="relais"'
    return response


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(
        request, {"detail": str(exc) or "Your role does not allow this."}, status=403
    )


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    # The same words whether the object is missing or another organisation's.
    return api.create_response(request, {"detail": str(exc) or "Not found."}, status=404)


@api.exception_handler(DjangoValidationError)
def _invalid(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    return api.create_response(request, {"detail": " ".join(exc.messages)}, status=422)


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return api.create_response(request, {"detail": "The request body is too large."}, status=413)


api.add_router("/", inbox_router)
api.add_router("/", channels_router)
api.add_router("/", webhook_router)
api.add_router("/", triage_router)

api.add_router("/", incidents_router)

api.add_router("/", publishing_router)

api.add_router("/", wording_router)

api.add_router("/", care_router)

api.add_router("/", listening_router)
