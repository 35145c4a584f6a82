from django.apps import AppConfig


class PublishingConfig(AppConfig):
    name = "relais.publishing"
    label = "publishing"

    def ready(self) -> None:
        from relais.publishing import receivers  # noqa: F401 - connects the delivery signal
