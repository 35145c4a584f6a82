from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "relais.incidents"
    label = "incidents"

    def ready(self) -> None:
        from relais.incidents import receivers  # noqa: F401 - connects the crisis signal
