"""The NinjaAPI instance; each part contributes a router."""

from ninja import NinjaAPI

api = NinjaAPI(title="Relais API", version="1", urls_namespace="api")
