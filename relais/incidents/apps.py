from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "relais.incidents"
    label = "incidents"
