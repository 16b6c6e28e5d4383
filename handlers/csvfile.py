"""CSV files of survey responses and invitations: flat fields by name, nested ones dotted
(`customer.email`, `scores.overall`, `answers.contact_requested`); each row becomes one
wire-format item."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, TextIO

from pydantic import BaseModel

from bot.domain.errors import InvalidInput, Problem
from handlers.wire import CustomerWire, InvitationWire, ResponseWire

_INT = re.compile(r"^[+-]?\d+$")
_TRUE = {"true", "yes", "y", "1", "ja", "j"}
_FALSE = {"false", "no", "n", "0", "nej", "nein"}
INT_FIELDS = {"nps", "segment"}
BOOL_FIELDS = {"anonymous", "publish_consent"}
FREE_MAPS = {"scores", "answers"}
NESTED = {"customer": set(CustomerWire.model_fields) | {"phones.home", "phones.work", "phones.mobile"}, "contact": {"name", "email", "phone"}}


@dataclass(frozen=True)
class Shape:
    """The columns a kind of file may have: the wire model's fields, dotted nested ones."""

    wire: type[BaseModel]
    nested: dict[str, set[str]]
    free_maps: frozenset[str] = field(default_factory=frozenset)


RESPONSES = Shape(ResponseWire, NESTED, frozenset(FREE_MAPS))
INVITATIONS = Shape(InvitationWire, {"customer": NESTED["customer"]})


def check_header(header: list[str], shape: Shape = RESPONSES) -> None:
    problems = []
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        problems += [Problem("header", f"column {h!r} appears twice") for h in dupes]
    for h in header:
        root, _, rest = h.partition(".")
        if root in shape.free_maps and rest:
            continue
        if root in shape.nested and rest in shape.nested[root]:
            continue
        if not rest and root in shape.wire.model_fields and root not in shape.nested and root not in shape.free_maps:
            continue
        problems.append(Problem("header", f"unknown column {h!r}"))
    if "id" not in header:
        problems.append(Problem("header", "the id column is required"))
    if problems:
        raise InvalidInput(problems)


def _value(column: str, raw: str) -> Any:
    root = column.split(".", 1)[0]
    if (column in INT_FIELDS or root == "scores") and _INT.match(raw):
        return int(raw)
    if column in BOOL_FIELDS or root == "answers":
        low = raw.lower()
        if low in _TRUE - {"1"} or (column in BOOL_FIELDS and low == "1"):
            return True
        if low in _FALSE - {"0"} or (column in BOOL_FIELDS and low == "0"):
            return False
        if root == "answers" and _INT.match(raw):
            return int(raw)
    return raw


def row_to_item(row: dict[str, str]) -> dict[str, Any]:
    """One CSV row as a wire-format object; empty cells are left out."""
    item: dict[str, Any] = {}
    for column, raw in row.items():
        if raw is None or not raw.strip():
            continue
        value = _value(column, raw.strip())
        parts = column.split(".")
        target = item
        for p in parts[:-1]:
            target = target.setdefault(p, {})
        target[parts[-1]] = value
    return item


def read_rows(f: TextIO, shape: Shape = RESPONSES) -> Iterator[tuple[int, dict[str, Any] | Problem]]:
    """(line number, wire item) per data row; a malformed row yields a Problem instead."""
    reader = csv.reader(f)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InvalidInput([Problem("header", "the file is empty")]) from None
    check_header(header, shape)
    end = reader.line_num
    for row in reader:
        # A quoted cell may span lines: name the line the row starts on, as an editor shows it.
        line, end = end + 1, reader.line_num
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            yield line, Problem("row", f"has {len(row)} cells; the header has {len(header)}", line)
            continue
        yield line, row_to_item(dict(zip(header, row)))


def count_rows(path: Path) -> int:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return max(sum(1 for _ in csv.reader(f)) - 1, 0)
