from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "relais.channels"
    label = "channels"
