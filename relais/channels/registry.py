"""Connector kinds mapped to dotted paths, imported only when used."""

from functools import cache
from importlib import import_module

from relais.channels.contract import Connector

CONNECTORS: dict[str, str] = {
    "sandbox": "relais.connectors.sandbox.connector.SandboxConnector",
    "replay": "relais.connectors.replay.connector.ReplayConnector",
    "x": "relais.connectors.x.connector.XConnector",
    "meta": "relais.connectors.meta.connector.MetaConnector",
    "whatsapp": "relais.connectors.whatsapp.connector.WhatsAppConnector",
    "bluesky": "relais.connectors.bluesky.connector.BlueskyConnector",
    "mastodon": "relais.connectors.mastodon.connector.MastodonConnector",
    "matrix": "relais.connectors.matrix.connector.MatrixConnector",
    "email": "relais.connectors.email.connector.EmailConnector",
    "sms": "relais.connectors.sms.connector.SmsConnector",
}


class UnknownConnector(LookupError):
    pass


@cache
def connector_class(kind: str) -> type[Connector]:
    try:
        path = CONNECTORS[kind]
    except KeyError:
        raise UnknownConnector(
            f"no connector of kind {kind!r}; known: {sorted(CONNECTORS)}"
        ) from None
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


def connector_for(account) -> Connector:
    return connector_class(account.kind)(account)
