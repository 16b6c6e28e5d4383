"""The error tree every edge translates.

    CxError
    ├── Refused                 a reason the user may read; nothing was changed
    │   ├── NotAllowed          the actor has no grant for that dealer or action  (HTTP 403)
    │   ├── NoteRequired        a status change without a note                    (HTTP 422)
    │   ├── UnknownAlert        no such alert (or not visible to the actor)       (HTTP 404)
    │   ├── NotFound            no such dealer, customer, key …                   (HTTP 404)
    │   ├── InvalidTransition   e.g. resolved → resolved                          (HTTP 409)
    │   ├── Conflict            a known id came back with different content       (HTTP 409)
    │   └── InvalidInput        per-field problems                                (HTTP 422)
    └── DeliveryError           outbound delivery failed
        ├── RetryLater          try again later (after `seconds` if the other side said)
        └── PermanentFailure    will never succeed; `reason` says why
"""

from __future__ import annotations

from dataclasses import dataclass


class CxError(Exception):
    """Base of every error cxbot raises on purpose."""


class Refused(CxError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAllowed(Refused):
    pass


class NoteRequired(Refused):
    def __init__(self, message: str = "A note is required: say who contacted the customer and what was agreed.") -> None:
        super().__init__(message)


class UnknownAlert(Refused):
    def __init__(self, alert_id: str) -> None:
        super().__init__(f"No alert {alert_id!r}.")
        self.alert_id = alert_id


class NotFound(Refused):
    pass


class InvalidTransition(Refused):
    pass


class Conflict(Refused):
    def __init__(self, message: str, ids: list[str]) -> None:
        super().__init__(message)
        self.ids = ids


@dataclass(frozen=True)
class Problem:
    """One wrong field: `index` is the item's position in a batch (or a CSV line number)."""

    field: str
    message: str
    index: int | None = None


class InvalidInput(Refused):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0] if problems else Problem("", "invalid input")
        where = f"item {first.index}: " if first.index is not None else ""
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{where}{first.field}: {first.message}{more}")


class DeliveryError(CxError):
    pass


class RetryLater(DeliveryError):
    """A passing failure. `seconds` is what the other side asked for (Retry-After); None leaves
    the wait to the dispatcher's backoff."""

    def __init__(self, reason: str, seconds: float | None = None) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


class PermanentFailure(DeliveryError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
