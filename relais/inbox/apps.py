from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "relais.inbox"
    label = "inbox"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from relais.inbox import receivers  # noqa: F401 - connects the delivery signal

        post_migrate.connect(_repair_search_index, sender=self)


def _repair_search_index(sender, using="default", **kwargs) -> None:
    from django.db import connections

    from relais.inbox.search import ensure_sqlite_index

    ensure_sqlite_index(connections[using])
