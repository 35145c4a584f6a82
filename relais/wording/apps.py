from django.apps import AppConfig


class WordingConfig(AppConfig):
    name = "relais.wording"
    label = "wording"
