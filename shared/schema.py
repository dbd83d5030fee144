"""A projection's tables as this version declares them, on a database an older version made.

`create_all` makes missing tables but never touches an existing one, so a column a new version added
(e.g. `timers.cause`) would be missing on an upgraded database and every statement naming it would fail.
A missing column that is nullable, or has a constant default, is added in place (existing rows take the
default); any other missing column refuses to start with the way out: rebuild the service's projections
from the log (`peerline replay <service>`, docs/deploy.md "Upgrades").
"""

from __future__ import annotations

from sqlalchemy import Column, ColumnDefault, Connection, Engine, MetaData, inspect
from sqlalchemy.schema import CreateColumn


class SchemaBehind(RuntimeError):
    """A table lacks a column this version needs and no default can fill it."""


def add_missing_columns(engine: Engine, metadata: MetaData) -> list[str]:
    """Add what an older version's tables lack; returns `table.column` for each column added."""
    with engine.begin() as conn:
        present = inspect(conn)
        added = []
        for table in metadata.sorted_tables:
            if not present.has_table(table.name):
                continue  # create_all makes it whole
            have = {c["name"] for c in present.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have:
                    _add(conn, table.name, column)
                    added.append(f"{table.name}.{column.name}")
        return added


def _add(conn: Connection, table: str, column: Column[object]) -> None:
    default = column.default
    fill = default.arg if isinstance(default, ColumnDefault) and default.is_scalar else None
    if fill is None and not column.nullable:
        raise SchemaBehind(
            f"table {table} lacks column {column.name}, which this version needs and cannot fill; "
            "rebuild this service's projections from the log (peerline replay <service>)"
        )
    spec = str(CreateColumn(column).compile(dialect=conn.dialect))
    if fill is not None:  # existing rows take the default (SQLite requires one for NOT NULL)
        value = str(fill) if isinstance(fill, (int, float)) else "'" + str(fill).replace("'", "''") + "'"
        spec = f"{spec} DEFAULT {value}"
    conn.exec_driver_sql(f"ALTER TABLE {conn.dialect.identifier_preparer.quote(table)} ADD COLUMN {spec}")
