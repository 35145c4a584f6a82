from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "relais.care"
    label = "care"
