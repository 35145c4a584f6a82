"""Database helpers the ORM does not offer efficiently."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

from django.db import connection, models


def update_rows(
    model: type[models.Model], objects: Iterable[models.Model], fields: Sequence[str]
) -> int:
    """Save `fields` of many rows with one prepared UPDATE per row (executemany).

    Django's bulk_update builds one CASE WHEN expression per field over every row, which
    costs more than the rows themselves on batches of hundreds (measured 3.4x slower on
    SQLite, 3.9x on PostgreSQL: docs/benchmarks.md)."""
    objects = list(objects)
    if not objects:
        return 0
    meta = model._meta
    columns = [cast(models.Field, meta.get_field(name)) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(str(f.column))} = %s" for f in columns)
    # Only quoted names from the model are formatted in; every value is a parameter.
    table, key = quote(meta.db_table), quote(str(cast(models.Field, meta.pk).column))
    sql = f"UPDATE {table} SET {assignments} WHERE {key} = %s"  # noqa: S608
    rows = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns] + [obj.pk]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return len(rows)
