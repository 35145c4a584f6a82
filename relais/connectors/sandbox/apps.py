from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "relais.connectors.sandbox"
    label = "sandbox"
