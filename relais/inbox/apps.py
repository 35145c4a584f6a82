from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "relais.inbox"
    label = "inbox"

    def ready(self) -> None:
        from relais.inbox import receivers  # noqa: F401 - connects the delivery signal
