from django.apps import AppConfig


class EmailConfig(AppConfig):
    """An app only for its `relais email_idle` command: the connector has no models."""

    name = "relais.connectors.email"
    label = "email_connector"
