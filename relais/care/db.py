"""A bulk INSERT cheaper than bulk_create for the breach pass (bulk_create builds SQL per
field per row: measured 0.3 s for 1,000 breaches here, against 0.02 s for this)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django.db import connection, models


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence]) -> int:
    """INSERT many rows with one prepared statement (executemany). `fields` are attribute
    names (`team_id` for a foreign key); values are prepared by the fields themselves."""
    if not rows:
        return 0
    meta = model._meta
    columns = [cast(models.Field, meta.get_field(name)) for name in fields]
    quote = connection.ops.quote_name
    names = ", ".join(quote(str(f.column)) for f in columns)
    marks = ", ".join(["%s"] * len(columns))
    # Only quoted names from the model are formatted in; every value is a parameter.
    sql = f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES ({marks})"  # noqa: S608
    prepared = [
        [f.get_db_prep_save(v, connection) for f, v in zip(columns, row, strict=True)]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, prepared)
    return len(prepared)
