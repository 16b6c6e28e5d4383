"""Scheduled jobs: thin calls into services. Safe on every replica at once, because the services
claim their rows (escalations, reminders) or their run (`job_runs`) before doing anything."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, time

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.services import Context, detractor_digest, digest, escalation, lost_sales, reviews

log = structlog.get_logger()


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Jobs:
    def __init__(
        self, cx: Context, sweep_seconds: float, digest_at: tuple[str, str] | None = ("mon", "08:00"), detractor_digest_at: str | None = None,
        lost_sales: bool = False,
    ) -> None:
        self.cx = cx
        self.lost_sales = lost_sales  # the monthly lost-sales selection (CXBOT_LOST_SALES_ENABLED)
        self.detractor_digest_at = detractor_digest_at  # "07:00" in each dealer's time zone; None: off
        self.sweep_seconds = sweep_seconds
        self.digest_at = digest_at
        self.owner = uuid.uuid4().hex[:16]
        # The jobs themselves are idempotent; coalescing only avoids a pile-up after a pause.
        self.scheduler = AsyncIOScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})

    def start(self) -> None:
        """Start on the running loop. The first sweep runs at once: alerts that fell due while
        cxbot was down are escalated at start."""
        self.scheduler.add_job(self.sweep, "interval", seconds=self.sweep_seconds, next_run_time=datetime.now(UTC), id="sweep")
        # Reviews whose hold period ended (also while cxbot was down) are published on the sweep's beat.
        self.scheduler.add_job(self.publish_reviews, "interval", seconds=self.sweep_seconds, next_run_time=datetime.now(UTC), id="reviews")
        if self.digest_at is not None:
            # Every dealer has its own "Monday 08:00"; a check every few minutes finds the ones due.
            self.scheduler.add_job(self.digests, "interval", minutes=5, next_run_time=datetime.now(UTC), id="digests")
        if self.detractor_digest_at is not None:
            self.scheduler.add_job(self.detractor_digests, "interval", minutes=5, next_run_time=datetime.now(UTC), id="detractor_digests")
        if self.lost_sales:
            # Each dealer's "8th, 06:00" (CXBOT_LOST_SALES_DAY/_TIME) on its own clock; claimed per month.
            self.scheduler.add_job(self.lost_sales_selection, "interval", minutes=5, next_run_time=datetime.now(UTC), id="lost_sales")
            # The one reminder 7 days after an unanswered invitation, on the sweep's beat.
            self.scheduler.add_job(self.lost_sales_reminders, "interval", seconds=self.sweep_seconds, next_run_time=datetime.now(UTC), id="lost_sales_reminders")
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def _run(self, job: str, work: Awaitable[None]) -> None:
        """One run of a job. A failure is logged once and the next interval tries again. A run cut
        short because cxbot is stopping ends quietly: its transaction rolled back, and the next
        start (or another replica) does the work."""
        try:
            await work
        except asyncio.CancelledError:
            if self.scheduler.running:
                raise
            log.info("job_stopped", job=job)
        except Exception:
            log.exception("job_failed", job=job)

    async def sweep(self) -> None:
        await self._run("sweep", escalation.sweep(self.cx))

    async def publish_reviews(self) -> None:
        await self._run("reviews", reviews.publish_due(self.cx))

    async def digests(self) -> None:
        assert self.digest_at is not None
        day, clock = self.digest_at
        hour, minute = (int(x) for x in clock.split(":"))
        await self._run("digests", digest.weekly(self.cx, self.owner, DAYS.index(day), time(hour, minute)))

    async def detractor_digests(self) -> None:
        assert self.detractor_digest_at is not None
        hour, minute = (int(x) for x in self.detractor_digest_at.split(":"))
        await self._run("detractor_digests", detractor_digest.daily(self.cx, self.owner, time(hour, minute)))

    async def lost_sales_selection(self) -> None:
        await self._run("lost_sales", lost_sales.due(self.cx, self.owner))

    async def lost_sales_reminders(self) -> None:
        await self._run("lost_sales_reminders", lost_sales.remind(self.cx))
