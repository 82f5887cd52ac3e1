"""Bulk provisioning from registry feeds: a batch per transaction, set-based SQL (P3).

New patrons are written a table at a time with their ids allocated first: on
PostgreSQL from the table's own sequence, then with COPY in the binary format; on
SQLite, whose transactions begin IMMEDIATE and so hold the database's write lock,
after the highest id, then with one executemany per table. Known patrons are updated
with one executemany on SQLite, and on PostgreSQL by COPY into a temporary table and
one UPDATE ... FROM. Values go through the columns' own bind processors, so the rows are
stored exactly as the row-at-a-time repositories store them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, Table, any_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from patronauth.adapters.storage import tables as t
from patronauth.domain.credentials import CredentialState
from patronauth.domain.identifiers import IdentifierStatus
from patronauth.services.interfaces import (
    KnownBarcode,
    NewCredential,
    NewPatron,
    RegistryBatchResult,
    RegistryRow,
)

_CHUNK = 900  # bound parameters per IN list, well inside every SQLite build's limit
_SQLITE_CACHE_KIB = 65536

_PATRON_COLUMNS = (
    "id",
    "uid",
    "institution",
    "category",
    "status",
    "name",
    "email",
    "phone_masked",
    "phone_digest",
    "id_type",
    "id_masked",
    "id_digest",
    "registered_on",
    "language",
    "created_at",
    "updated_at",
)
# What a feed may replace for a known patron: never the uid, the institution, the
# registration date or the creation time.
_PATRON_UPDATE_COLUMNS = tuple(
    c for c in _PATRON_COLUMNS if c not in {"uid", "institution", "registered_on", "created_at"}
)
# Which columns each registration field writes; a field the row does not give is
# written as NULL and the stored value stays (COALESCE).
_GIVES = {
    "category": ("category",),
    "status": ("status",),
    "name": ("name",),
    "email": ("email",),
    "phone": ("phone_masked", "phone_digest"),
    "id_number": ("id_type", "id_masked", "id_digest"),
    "language": ("language",),
}
_KEPT_WHEN_NULL = {column for columns in _GIVES.values() for column in columns}
# A feed completes a pending registration, but never moves a status staff set (an
# active patron back to pending, a barred or expired one to active).
_STATUS = "CASE WHEN {old} = 'pending_registration' THEN COALESCE({new}, {old}) ELSE {old} END"
_IDENTIFIER_COLUMNS = (
    "patron_id",
    "kind",
    "value",
    "lookup_key",
    "status",
    "created_at",
    "registry_fingerprint",
)
_CREDENTIAL_COLUMNS = (
    "patron_id",
    "kind",
    "state",
    "secret_hash",
    "default_digest",
    "policy_from",
    "set_at",
    "expires_at",
    "consecutive_failures",
    "suspended_from",
    "version",
)

Values = tuple[Any, ...]


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


class _Writer:
    """Writes rows of one table, each value in the stored form its column's type gives."""

    def __init__(self, conn: Connection, table: Table, columns: Sequence[str]) -> None:
        self.conn = conn
        self.table = table
        self.columns = tuple(columns)
        dialect = conn.dialect
        self._processors = {
            name: processor
            for name in columns
            if (processor := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
        }
        self._stored: dict[tuple[str, Any], Any] = {}
        self._types: list[int] | None = None

    def stored(self, column: str, value: Any) -> Any:
        """`value` as the driver receives it (dates and times repeat, so it is cached)."""
        processor = self._processors.get(column)
        if processor is None or value is None:  # NULL is NULL for every column here
            return value
        key = (column, value)
        try:
            return self._stored[key]
        except KeyError:
            result = self._stored[key] = processor(value)
            return result

    def _postgres(self) -> Any:
        raw = self.conn.connection.driver_connection
        assert raw is not None
        return raw

    def _copy(self, table: str, rows: list[Values]) -> None:
        """COPY `rows` into `table` (this writer's table, or its staging copy) in
        PostgreSQL's binary format: each value goes as its column's type stores it, so
        nothing is printed as text here and parsed again by the server (P3)."""
        names = ", ".join(self.columns)
        statement = f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)"
        types = self._column_types()
        with self._postgres().cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)

    def _column_types(self) -> list[int]:
        """The type of each of `columns`, as the database has it: binary COPY needs them
        said. Read from the catalogue once per writer (a staging table is made like
        the table, so its columns have the same types)."""
        if self._types is None:
            query = text(
                "SELECT attname, atttypid FROM pg_attribute "
                "WHERE attrelid = CAST(:table AS regclass) AND attnum > 0 AND NOT attisdropped"
            )
            found = {row[0]: row[1] for row in self.conn.execute(query, {"table": self.table.name})}
            self._types = [int(found[name]) for name in self.columns]
        return self._types

    def insert(self, rows: list[Values]) -> None:
        """Insert `rows`: tuples in the order of `columns`, values in stored form."""
        if not rows:
            return
        if self.conn.dialect.name == "postgresql":
            self._copy(self.table.name, rows)
            return
        names = ", ".join(self.columns)
        marks = ", ".join("?" * len(self.columns))
        statement = f"INSERT INTO {self.table.name} ({names}) VALUES ({marks})"  # noqa: S608
        self.conn.exec_driver_sql(statement, rows)

    def update(self, rows: list[Values], kept: Mapping[str, str] | None = None) -> None:
        """Update by the first column (the primary key) the others, like `insert`.

        `kept` maps a column to the SQL expression it takes, over `{new}` (the value
        sent) and `{old}` (the stored one); the other columns take the value sent.
        """
        if not rows:
            return
        key, *columns = self.columns
        kept = kept or {}
        if self.conn.dialect.name == "postgresql":
            # Into a temporary table with COPY, then one UPDATE ... FROM.
            staging = f"registry_{self.table.name}"
            names = ", ".join(self.columns)
            self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS pg_temp.{staging}")
            self.conn.exec_driver_sql(
                f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS "  # noqa: S608
                f"SELECT {names} FROM {self.table.name} WITH NO DATA"
            )
            self._copy(staging, rows)
            table = self.table.name
            assignments = ", ".join(
                f"{name} = "
                + kept.get(name, "{new}").format(new=f"s.{name}", old=f"{table}.{name}")
                for name in columns
            )
            self.conn.exec_driver_sql(
                f"UPDATE {self.table.name} SET {assignments} "  # noqa: S608
                f"FROM {staging} s WHERE {self.table.name}.{key} = s.{key}"
            )
            return
        assignments = ", ".join(
            f"{name} = " + kept.get(name, "{new}").format(new="?", old=name) for name in columns
        )
        statement = f"UPDATE {self.table.name} SET {assignments} WHERE {key} = ?"  # noqa: S608
        self.conn.exec_driver_sql(statement, [(*row[1:], row[0]) for row in rows])


class SqlRegistry:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _where_in(
        self, query: Select[Any], column: Any, values: Sequence[Any]
    ) -> list[Select[Any]]:
        """`query` for rows whose `column` is one of `values`: one array parameter on
        PostgreSQL, IN lists of a bounded length elsewhere."""
        unique = list(dict.fromkeys(values))
        if self.conn.dialect.name == "postgresql":
            array = ARRAY(column.type)
            return [query.where(column == any_(bindparam("values", unique, type_=array)))]
        return [query.where(column.in_(chunk)) for chunk in _chunks(unique)]

    def existing(self, barcodes: Sequence[str]) -> dict[str, KnownBarcode]:
        i, p = t.identifiers, t.patrons
        query = select(
            i.c.value,
            i.c.status,
            i.c.patron_id,
            p.c.uid,
            p.c.institution,
            p.c.category,
            p.c.registered_on,
        ).join(p, p.c.id == i.c.patron_id)
        known: dict[str, KnownBarcode] = {}
        for each in self._where_in(query, i.c.value, barcodes):
            for row in self.conn.execute(each):
                known[row.value] = KnownBarcode(
                    patron_id=row.patron_id,
                    uid=row.uid,
                    institution=row.institution,
                    replaced=row.status != IdentifierStatus.CURRENT.value,
                    category=row.category,
                    registered_on=row.registered_on,
                )
        return known

    def fingerprints(self, institution: str) -> Iterator[tuple[str, str]]:
        i, p = t.identifiers, t.patrons
        query = (
            select(i.c.registry_fingerprint, i.c.value)
            .join(p, p.c.id == i.c.patron_id)
            .where(
                p.c.institution == institution,
                i.c.status == IdentifierStatus.CURRENT.value,
                i.c.registry_fingerprint.is_not(None),
            )
        )
        yield from self.conn.execute(query)

    def after_bulk_load(self) -> None:
        # PostgreSQL plans from statistics that autovacuum refreshes a while after a
        # bulk load (within a minute or so). Until then it takes the new tables to be
        # nearly empty: a re-import straight after a first import of 20,000 patrons
        # joined its fingerprints in a nested loop, 7 s instead of 0.05 s (P3). SQLite
        # plans from its indexes without statistics.
        if self.conn.dialect.name == "postgresql":
            names = ", ".join(table.name for table in (t.patrons, t.identifiers, t.credentials))
            self.conn.exec_driver_sql(f"ANALYZE {names}")

    def upsert(self, rows: Sequence[RegistryRow]) -> RegistryBatchResult:
        new = [r for r in rows if r.patron_id is None]
        known = [r for r in rows if r.patron_id is not None]
        now = datetime.now(UTC)
        if self.conn.dialect.name == "sqlite":
            # Batches insert into indexes on random keys (uids, barcodes): with SQLite's
            # default 2 MiB page cache, a million patrons' indexes are read and written
            # back page by page. 64 MiB (taken as used, on this connection) holds them.
            self.conn.exec_driver_sql(f"PRAGMA cache_size=-{_SQLITE_CACHE_KIB}")
        if new:
            self._insert(new, now)
        if known:
            self._update(known, now)
        return RegistryBatchResult(created=len(new), updated=len(known))

    def _new_ids(self, count: int) -> list[int]:
        if self.conn.dialect.name == "postgresql":
            # One row holding every id: a row each cost the import ~2 us per patron.
            query = text(
                "SELECT array_agg(nextval(pg_get_serial_sequence('patrons', 'id'))) "
                "FROM generate_series(1, :count)"
            )
            return [int(i) for i in self.conn.execute(query, {"count": count}).scalar_one()]
        # SQLite: the transaction holds the write lock, so nobody else takes these ids.
        highest = self.conn.execute(select(func.max(t.patrons.c.id))).scalar() or 0
        return list(range(highest + 1, highest + 1 + count))

    def _insert(self, rows: Sequence[RegistryRow], now: datetime) -> None:
        patrons = _Writer(self.conn, t.patrons, _PATRON_COLUMNS)
        identifiers = _Writer(self.conn, t.identifiers, _IDENTIFIER_COLUMNS)
        credentials = _Writer(self.conn, t.credentials, _CREDENTIAL_COLUMNS)
        stored_now = patrons.stored("created_at", now)
        current = IdentifierStatus.CURRENT.value
        patron_rows: list[Values] = []
        identifier_rows: list[Values] = []
        credential_rows: list[Values] = []
        for patron_id, r in zip(self._new_ids(len(rows)), rows, strict=True):
            patron_rows.append(
                (patron_id, r.patron.uid, *_fed(patrons, r.patron), stored_now, stored_now)
            )
            identifier_rows.append(
                (
                    patron_id,
                    r.kind.value,
                    r.barcode,
                    r.lookup_key,
                    current,
                    stored_now,
                    r.fingerprint,
                )
            )
            if r.link is not None:
                kind, value, key = r.link
                identifier_rows.append(
                    (patron_id, kind.value, value, key, current, stored_now, None)
                )
            credential_rows.extend(_credential(credentials, patron_id, c) for c in r.credentials)
        patrons.insert(patron_rows)
        identifiers.insert(identifier_rows)
        credentials.insert(credential_rows)

    def _update(self, rows: Sequence[RegistryRow], now: datetime) -> None:
        c = t.credentials
        patrons = _Writer(self.conn, t.patrons, _PATRON_UPDATE_COLUMNS)
        stored_now = patrons.stored("updated_at", now)
        patron_rows: list[Values] = []
        for r in rows:
            p = r.patron
            values = {
                "category": p.category,
                "status": p.status.value,
                "name": p.name,
                "email": p.email,
                "phone_masked": p.phone_masked,
                "phone_digest": p.phone_digest,
                "id_type": p.id_type.value if p.id_type else None,
                "id_masked": p.id_masked,
                "id_digest": p.id_digest,
                "language": p.language,
            }
            if r.given is not None:
                for field, written in _GIVES.items():
                    if field not in r.given:
                        values.update(dict.fromkeys(written))
            patron_rows.append((r.patron_id, *values.values(), stored_now))
        kept = dict.fromkeys(_KEPT_WHEN_NULL, "COALESCE({new}, {old})")
        patrons.update(patron_rows, kept | {"status": _STATUS})
        links = _Writer(self.conn, t.identifiers, _IDENTIFIER_COLUMNS)
        status = IdentifierStatus.CURRENT.value
        link_rows: list[Values] = [
            (r.patron_id, r.link[0].value, r.link[1], r.link[2], status, stored_now, None)
            for r in rows
            if r.link is not None
        ]
        links.insert(link_rows)
        # The card's fingerprint follows the line it was updated from (None: a row
        # without one, which a later feed line must not be taken to repeat).
        cards = _Writer(self.conn, t.identifiers, ("value", "registry_fingerprint"))
        cards.update([(r.barcode, r.fingerprint) for r in rows])

        stored: dict[tuple[int, str], tuple[int, str, str | None]] = {}
        columns = select(c.c.id, c.c.patron_id, c.c.kind, c.c.state, c.c.default_digest)
        for query in self._where_in(columns, c.c.patron_id, [r.patron_id for r in rows]):
            for row in self.conn.execute(query):
                stored[(row.patron_id, row.kind)] = (row.id, row.state, row.default_digest)

        writer = _Writer(self.conn, c, _CREDENTIAL_COLUMNS)
        follow_default, digest_only, added = [], [], []
        for r in rows:
            assert r.patron_id is not None
            for credential in r.credentials:
                current = stored.get((r.patron_id, credential.kind.value))
                if current is None:
                    added.append(_credential(writer, r.patron_id, credential))
                    continue
                credential_id, state, digest = current
                if digest == credential.default_digest:
                    continue
                change = {"b_id": credential_id, "b_digest": credential.default_digest}
                if state == CredentialState.DEFAULT.value:
                    follow_default.append(change)
                else:
                    digest_only.append(change)
        if follow_default:
            self.conn.execute(
                update(c)
                .where(c.c.id == bindparam("b_id"))
                .values(
                    default_digest=bindparam("b_digest"),
                    secret_hash=bindparam("b_digest"),
                    version=c.c.version + 1,
                ),
                follow_default,
            )
        if digest_only:
            self.conn.execute(
                update(c)
                .where(c.c.id == bindparam("b_id"))
                .values(default_digest=bindparam("b_digest")),
                digest_only,
            )
        writer.insert(added)


def _fed(writer: _Writer, p: NewPatron) -> Values:
    """What a feed sets of a patron, in the order of `_PATRON_COLUMNS[2:-2]`."""
    return (
        p.institution,
        p.category,
        p.status.value,
        p.name,
        p.email,
        p.phone_masked,
        p.phone_digest,
        p.id_type.value if p.id_type else None,
        p.id_masked,
        p.id_digest,
        writer.stored("registered_on", p.registered_on),
        p.language,
    )


def _credential(writer: _Writer, patron_id: int, c: NewCredential) -> Values:
    return (
        patron_id,
        c.kind.value,
        c.state.value,
        c.secret_hash,
        c.default_digest,
        writer.stored("policy_from", c.policy_from),
        writer.stored("set_at", c.set_at),
        writer.stored("expires_at", c.expires_at),
        0,
        None,
        1,
    )
