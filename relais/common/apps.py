from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "relais.common"
    label = "common"
