from django.apps import AppConfig


class ReplayConfig(AppConfig):
    name = "relais.connectors.replay"
    label = "replay"
