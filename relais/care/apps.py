from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "relais.care"
    label = "care"

    def ready(self) -> None:
        from relais.care import receivers  # noqa: F401 - answers and closes stop the SLA clock
