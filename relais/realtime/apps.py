from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "relais.realtime"
    label = "realtime"
