from django.apps import AppConfig


class TransitConfig(AppConfig):
    name = "relais.transit"
    label = "transit"
