"""Full-text index on message text: FTS5 (SQLite) or a tsvector GIN index (PostgreSQL)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from relais.inbox import search

    search.install(schema_editor)


def backwards(apps, schema_editor):
    from relais.inbox import search

    search.uninstall(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("inbox", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
