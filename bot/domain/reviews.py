"""Public reviews ("CarAdvisor", seed 002): which answers become reviews, how a reviewer is named
in public, the dealer's reply, and when a review is published."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

from bot.domain.errors import InvalidInput, InvalidTransition, NotFound, Problem
from bot.domain.values import Survey

PREFIX = "RV"
REPLY_MAX = 2000  # characters; a reply sits beside the customer's comment on the website
# Reviews are about buying or servicing a car; lost-sales prospects bought nothing to review.
REVIEWED_SURVEYS = frozenset({Survey.SALES, Survey.SERVICE})


@dataclass(frozen=True)
class ReviewPolicy:
    """Which brands publish reviews (compared case-insensitively) and how long the dealer has to
    reply before a review goes public on its own."""

    brands: frozenset[str] = frozenset()
    hold: timedelta = timedelta(hours=72)

    @classmethod
    def of(cls, brands: list[str] | tuple[str, ...], hold_hours: float) -> ReviewPolicy:
        return cls(frozenset(b.strip().casefold() for b in brands if b.strip()), timedelta(hours=hold_hours))

    def covers(self, brand: str | None) -> bool:
        return brand is not None and brand.strip().casefold() in self.brands


def becomes_review(survey: Survey, publish_consent: bool, nps: int | None, scores: Mapping[str, int], comment: str | None) -> bool:
    """Only with the customer's consent, only sales and service answers, and only when there is
    something to show (a score or a comment)."""
    if not publish_consent or survey not in REVIEWED_SURVEYS:
        return False
    return nps is not None or bool(scores) or bool(comment and comment.strip())


def public_name(name: str | None) -> str | None:
    """How a reviewer is named in public: first name and the initial of the last ("Anne S.").
    Never the full name; None when there is no name to show."""
    if not name:
        return None
    parts = name.split()
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} {parts[-1][0]}."


class UnknownReview(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"Not allowed: there is no review {ref} that you may act on.")
        self.ref = ref


_REF = re.compile(r"^\s*(?:RV-?)?(\d{1,12})\s*$", re.IGNORECASE)


def review_ref(review_id: int) -> str:
    return f"{PREFIX}-{review_id}"


def parse_ref(ref: str) -> int:
    """`RV-12`, `rv12` or `12` → 12; anything else is refused naming what was given."""
    m = _REF.match(ref or "")
    if m is None:
        raise InvalidInput([Problem("review", f"{ref!r} is not a review id like RV-12")])
    return int(m.group(1))


def clean_reply(text: str | None) -> str:
    """The dealer's public reply: trimmed, not empty, at most REPLY_MAX characters."""
    reply = (text or "").strip()
    if not reply:
        raise InvalidInput([Problem("reply", "is empty: write the reply the customer and the public will read")])
    if "\x00" in reply:
        raise InvalidInput([Problem("reply", "must not contain the NUL character")])
    if len(reply) > REPLY_MAX:
        raise InvalidInput([Problem("reply", f"is {len(reply)} characters long; at most {REPLY_MAX}")])
    return reply


@dataclass(frozen=True)
class ReviewView:
    """A review with what its Slack message, the CLI and the public API show."""

    id: int
    dealer: str
    dealer_name: str
    survey: Survey
    nps: int | None
    scores: Mapping[str, int]
    comment: str | None
    author: str | None  # the public name ("Anne S."); None for anonymous customers
    submitted_at: datetime
    created_at: datetime
    publish_at: datetime
    published_at: datetime | None = None
    published_by: str | None = None
    reply: str | None = None
    replied_at: datetime | None = None
    replied_by: str | None = None
    withdrawn_at: datetime | None = None

    @property
    def ref(self) -> str:
        return review_ref(self.id)

    @property
    def published(self) -> bool:
        return self.published_at is not None and self.withdrawn_at is None

    @property
    def state(self) -> str:
        if self.withdrawn_at is not None:
            return "withdrawn"
        return "published" if self.published_at is not None else "held"


def approvable(v: ReviewView) -> None:
    """Approving publishes a held review now; there is nothing to approve once it is public."""
    if v.withdrawn_at is not None:
        raise InvalidTransition(f"{v.ref} was withdrawn and is never published.")
    if v.published_at is not None:
        raise InvalidTransition(f"{v.ref} is already published.")


def repliable(v: ReviewView) -> None:
    if v.withdrawn_at is not None:
        raise InvalidTransition(f"{v.ref} was withdrawn and is never published.")
