from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "relais.triage"
    label = "triage"
