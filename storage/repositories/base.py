"""What every repository shares: its connection and dialect-specific statements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import orjson
from sqlalchemy import Boolean, Enum, String, Table, TypeDecorator, and_, bindparam, false, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

# SQLite allows 32,766 bound parameters per statement; stay well below for wide rows.
CHUNK = 400


def chunks(rows: list[Any], size: int = CHUNK) -> list[list[Any]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _groups(keys: Iterable[Sequence[Any]]) -> list[tuple[tuple[Any, ...], list[Any]]]:
    groups: dict[tuple[Any, ...], set[Any]] = {}
    for k in keys:
        groups.setdefault(tuple(k[:-1]), set()).add(k[-1])
    return [(prefix, sorted(last)) for prefix, last in sorted(groups.items())]


def _match(cols: Sequence[Any], groups: Sequence[tuple[Sequence[Any], Any]], in_: Callable[[Any, Any], Any] = lambda col, v: col.in_(v)) -> Any:
    """`a = ? AND b IN (…) OR …`, one term per (prefix values, last values) group."""
    if not groups:
        return false()
    *prefix, last = cols
    return or_(*(and_(*(c == v for c, v in zip(prefix, values)), in_(last, lasts)) for values, lasts in groups))


def keys_in(cols: Sequence[Any], keys: Iterable[Sequence[Any]]) -> Any:
    """`(a, b) IN keys`, written as `a = ? AND b IN (…) OR …` per distinct prefix: SQLite scans the
    whole table for a row-value IN list, but searches the index for this (PostgreSQL does both well)."""
    return _match(cols, _groups(keys))


class _Values(TypeDecorator[Sequence[Any]]):
    """A list of strings bound as one parameter: JSON text on SQLite (read by json_each), a text
    array on PostgreSQL."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        return dialect.type_descriptor(postgresql.ARRAY(String()) if dialect.name == "postgresql" else String())

    def process_bind_param(self, value: Sequence[Any] | None, dialect: Any) -> Any:
        if value is None:
            return None
        return orjson.dumps(list(value)).decode() if dialect.name == "sqlite" else list(value)


class InValues(ColumnElement[bool]):
    """`col IN (…)` with the whole list bound to the one parameter `name`: on SQLite
    `col IN (SELECT value FROM json_each(?))`, on PostgreSQL `col = ANY(?)`; both search col's
    index. An expanding IN (`col.in_(bindparam(…, expanding=True))`) makes SQLAlchemy write the
    SQL again and convert every value on each call (intake's look-ups of a batch's hundred ids);
    this statement stays the same whatever the list."""

    inherit_cache = True
    _traverse_internals = [("col", InternalTraversal.dp_clauseelement), ("values", InternalTraversal.dp_clauseelement)]

    def __init__(self, col: Any, name: str) -> None:
        self.col = col
        self.values = bindparam(name, type_=_Values())


@compiles(InValues, "sqlite")
def _in_values_sqlite(element: InValues, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.col, **kw)} IN (SELECT value FROM json_each({compiler.process(element.values, **kw)}))"


@compiles(InValues)
def _in_values(element: InValues, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.col, **kw)} = ANY ({compiler.process(element.values, **kw)})"


class KeyQuery:
    """A statement filtered by `keys_in`, built once per number of distinct prefixes with the keys
    bound as parameters (each prefix's last values as one list, `InValues`): SQLAlchemy then
    neither rebuilds it nor walks it for its cache key on each call (intake asks three of these
    per batch). `build` gets the filter and returns the statement."""

    def __init__(self, cols: Sequence[Any], build: Callable[[Any], Any]) -> None:
        self.cols = cols
        self.build = build
        self._built: dict[int, Any] = {}

    def __call__(self, keys: Iterable[Sequence[Any]], **params: Any) -> tuple[Any, dict[str, Any]]:
        """The statement for these keys, and its parameters (with `params` for the rest of it)."""
        groups = _groups(keys)
        n = len(groups)
        if n not in self._built:
            width = len(self.cols) - 1
            bound = [([bindparam(f"kp{i}_{j}") for j in range(width)], f"kv{i}") for i in range(n)]
            self._built[n] = self.build(_match(self.cols, bound, InValues))
        for i, (prefix, last) in enumerate(groups):
            params.update({f"kp{i}_{j}": v for j, v in enumerate(prefix)})
            params[f"kv{i}"] = last
        return self._built[n], params


def insert_for(dialect: str, table: Table) -> Any:
    """An INSERT that knows ON CONFLICT on both dialects."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


class Repo:
    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    def insert(self, table: Table) -> Any:
        """An INSERT that knows ON CONFLICT on both dialects."""
        return insert_for(self.dialect, table)

    @property
    def locks_rows(self) -> bool:
        # SQLite writes hold the whole database (BEGIN IMMEDIATE); PostgreSQL needs FOR UPDATE.
        return self.dialect == "postgresql"


class Many:
    """A statement run once per row (executemany) whose rows reach the driver as ready tuples.

    SQLAlchemy builds a dict of every parameter for each row and then a tuple from it, checking
    each key, before the driver sees it: on intake's wide rows that was a fifth of a row's cost.
    This compiles the statement once per dialect and applies only the column types' own bind
    processors (JSON, enums, times, booleans), in the order the compiled SQL wants them.
    `statement` is the statement or a function of the dialect name that builds it. For an INSERT,
    `keys` are the row keys (the columns given), and must be exactly the parameters the SQL takes
    (checked when first compiled, so a column default SQLAlchemy would fill in per row is an
    error here, not a silent NULL); a statement written with bindparam()s takes those names."""

    def __init__(self, statement: Any, keys: Iterable[str] | None = None) -> None:
        self._build = statement if callable(statement) else (lambda _: statement)
        self.keys = tuple(keys) if keys is not None else None
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Any) -> _Compiled:
        got = self._compiled.get(dialect.name)
        if got is None:
            compiled = self._build(dialect.name).compile(dialect=dialect, column_keys=list(self.keys) if self.keys is not None else None)
            order = list(compiled.positiontup or ())
            if self.keys is not None and set(order) != set(self.keys):
                raise TypeError(f"Many: the statement takes {sorted(set(order))}, the rows give {sorted(self.keys)}")
            processors = compiled._bind_processors
            careful = {i: processors[k] for i, k in enumerate(order) if k in processors}
            quick = {i: _lookup(compiled.binds[order[i]].type, dialect) or p for i, p in careful.items()}
            got = self._compiled[dialect.name] = _Compiled(compiled.string, _tuples(order, quick), _tuples(order, careful))
        return got

    async def run(self, conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        c = self._for(conn.dialect)
        try:
            params = c.quick(rows)
        except (KeyError, TypeError):  # a value the look-ups do not know: SQLAlchemy's processors decide
            params = c.careful(rows)
        await conn.exec_driver_sql(c.sql, params)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    quick: Callable[[Sequence[dict[str, Any]]], list[tuple[Any, ...]]]  # rows → parameter tuples, with look-ups where they do
    careful: Callable[[Sequence[dict[str, Any]]], list[tuple[Any, ...]]]  # the same with SQLAlchemy's own processors only


def _tuples(order: Sequence[str], processors: dict[int, Any]) -> Callable[[Sequence[dict[str, Any]]], list[tuple[Any, ...]]]:
    """A function of rows giving each row's values in `order` as a tuple, converted by
    `processors` (by position) where given. Generated once per statement, as namedtuple and
    dataclasses generate theirs: one comprehension with every key and call written out costs
    half what a loop over the positions per row did."""
    names = {f"p{i}": p for i, p in processors.items()}
    items = ", ".join(f"p{i}(r[{k!r}])" if i in processors else f"r[{k!r}]" for i, k in enumerate(order))
    source = f"def tuples(rows):\n    return [({items},) for r in rows]\n"
    exec(compile(source, f"<Many {', '.join(order)[:60]}>", "exec"), names)  # keys are quoted with repr: no code from data
    return names["tuples"]  # type: ignore[no-any-return]


def _lookup(type_: Any, dialect: Any) -> Any:
    """For booleans and enum columns, a dict look-up (one C call) giving what SQLAlchemy's
    processor gives for every valid value (True/False/None; a member, its value, None); it raises
    KeyError for anything else, and Many then lets SQLAlchemy's processor handle the rows."""
    if isinstance(type_, Boolean):
        coerce = bool if dialect.supports_native_boolean else int
        return {None: None, True: coerce(True), False: coerce(False)}.__getitem__
    if isinstance(type_, Enum) and String().bind_processor(dialect) is None:
        return dict(type_._valid_lookup).__getitem__
    return None
