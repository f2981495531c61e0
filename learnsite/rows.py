"""Many new rows of one model written in one command: the content loader's new lessons,
questions and question versions (a first load of the bench's 1,001 lessons writes 17,402 of
each of the last two)."""

from django.db import connection, models
from django.db.models import Field


def rows_insert(*, model: type[models.Model], rows: list[dict]) -> None:
    """INSERT ``rows`` of ``model`` (attribute names to values, each of its field's Python type;
    a field left out gets its default) in one command: COPY on PostgreSQL, one executemany on
    SQLite. bulk_create's own work per row (a model instance, each value prepared through its
    field, the SQL built again for each batch) cost about 150 us a row, most of a first load's
    writing of its question versions; on PostgreSQL, its one INSERT of the 1,001 lessons (18 MB
    of JSON quoted in Python, then lexed by the server) took 1.3 s, by COPY 0.5-0.6 s."""
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    # The model's own table and column names, quoted; the values are parameters (or COPY data).
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    defaults = {field.attname: field.get_default() for field in fields}
    # Prepared only where the database takes another form than the Python value (JSON, dates,
    # integers on PostgreSQL, foreign keys): text and booleans go as they are, half of a version's
    # fields, which prepared for nothing were a third of this function's time.
    prepare = [
        field.get_db_prep_save
        if type(field).get_db_prep_value is not Field.get_db_prep_value
        else None
        for field in fields
    ]
    prepared = (
        [value if prep is None else prep(value, connection)
         for prep, value in zip(
             prepare, [values.get(field.attname, defaults[field.attname]) for field in fields],
             strict=True)]
        for values in rows
    )  # fmt: skip
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Django's psycopg cursors bind parameters on the client, so an executemany there is
            # one INSERT statement per row, each quoted in Python and parsed and planned by the
            # server: 2.8 s for a first load's 17,402 versions, 1.0 s by COPY, which streams the
            # rows as data of one command. (SQLite has no COPY; its executemany runs one
            # prepared statement in this process.)
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in prepared:
                    copy.write_row(row)
        else:
            places = ", ".join(["%s"] * len(fields))
            sql = f"INSERT INTO {table} ({columns}) VALUES ({places})"  # noqa: S608
            cursor.executemany(sql, list(prepared))  # a list: Django logs 'N times: INSERT ...'
