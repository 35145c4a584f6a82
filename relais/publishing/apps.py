from django.apps import AppConfig


class PublishingConfig(AppConfig):
    name = "relais.publishing"
    label = "publishing"

    def ready(self) -> None:
        from relais.publishing import receivers

        receivers.connect()
