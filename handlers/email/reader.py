"""Reads cxbot's mailbox over IMAP: every message is parsed, applied through the mail service, and
filed in Processed or Rejected — in batches, one MOVE per folder. imapclient is blocking, so every
IMAP call runs in a worker thread. IDLE when the server offers it, polling otherwise; one replica
reads a mailbox at a time (a lease in the database)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import ssl
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import structlog
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from bot.domain.mail import ParsedReply
from bot.domain.status_words import StatusWords
from bot.services import Context, mail
from bot.services.mail import Folder
from handlers.email.parse import parse_reply

log = structlog.get_logger()
POOL_FROM = 32  # messages in a batch before parsing moves to worker processes
WORKERS = min(4, os.cpu_count() or 1)


def parse_many(raws: list[bytes], words: StatusWords, local_part: str) -> list[ParsedReply]:
    return [parse_reply(raw, words, local_part) for raw in raws]


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    username: str
    password: str
    tls: str = "implicit"  # none | starttls | implicit
    ca_file: str | None = None
    folder: str = "INBOX"
    processed: str = "Processed"
    rejected: str = "Rejected"
    poll_seconds: float = 30.0
    idle: bool = True
    batch: int = 100
    local_part: str = "cxbot"  # the mailbox address's local part: "+tags" after it are cxbot's


@dataclass
class Timings:
    """Where the time went (the benchmark prints these)."""

    imap: float = 0.0
    parse: float = 0.0
    apply: float = 0.0
    messages: int = 0
    by_folder: dict[str, int] = field(default_factory=dict)


class MailboxReader:
    def __init__(self, cx: Context, config: ImapConfig, words: StatusWords) -> None:
        self.cx = cx
        self.config = config
        self.words = words
        self.owner = uuid.uuid4().hex[:16]
        self.lease = f"imap:{config.username}@{config.host}:{config.port}/{config.folder}"
        self.timings = Timings()
        self._client: IMAPClient | None = None
        self._pool: ProcessPoolExecutor | None = None

    # ---- blocking IMAP, run in threads -------------------------------------------------------

    def _connect(self) -> IMAPClient:
        c = self.config
        context = ssl.create_default_context(cafile=c.ca_file) if c.tls != "none" else None
        client = IMAPClient(c.host, port=c.port, ssl=c.tls == "implicit", ssl_context=context, timeout=30)
        if c.tls == "starttls":
            client.starttls(context)
        client.login(c.username, c.password)
        for name in (c.processed, c.rejected):
            if not client.folder_exists(name):
                client.create_folder(name)
        client.select_folder(c.folder)
        return client

    def _fetch(self, client: IMAPClient, limit: int) -> dict[int, bytes]:
        # On a connection kept open, a server reports messages that arrived since the last command
        # only with that command's answer: without this NOOP, SEARCH misses them until the next read.
        client.noop()
        uids = sorted(client.search("ALL"))[:limit]
        if not uids:
            return {}
        data = client.fetch(uids, ["BODY.PEEK[]"])
        return {uid: d[b"BODY[]"] for uid, d in data.items() if b"BODY[]" in d}

    def _file(self, client: IMAPClient, uids: list[int], folder: str) -> None:
        if not uids:
            return
        if client.has_capability("MOVE"):
            client.move(uids, folder)
        else:
            client.copy(uids, folder)
            client.delete_messages(uids)
            client.expunge(uids)

    def _wait(self, client: IMAPClient, seconds: float) -> bool:
        """IDLE until something arrives or `seconds` pass; True when the server said something."""
        if not (self.config.idle and client.has_capability("IDLE")):
            time.sleep(seconds)
            return False
        client.idle()
        try:
            return bool(client.idle_check(timeout=seconds))
        finally:
            client.idle_done()

    # ---- parsing: CPU work, spread over processes for big batches ---------------------------

    async def _parse(self, raws: list[bytes]) -> list[ParsedReply]:
        """MIME parsing and reply extraction cost ~2 ms of CPU a message: a backlog is parsed in
        worker processes (the event loop keeps serving), a trickle inline (no hand-off cost)."""
        if len(raws) < POOL_FROM or WORKERS < 2:
            return parse_many(raws, self.words, self.config.local_part)
        pool = self._workers()
        loop = asyncio.get_running_loop()
        size = -(-len(raws) // WORKERS)
        parts = [raws[i : i + size] for i in range(0, len(raws), size)]
        done = await asyncio.gather(*(loop.run_in_executor(pool, parse_many, part, self.words, self.config.local_part) for part in parts))
        return [p for part in done for p in part]

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver, not fork: this process has threads (aiosqlite, IMAP) that fork would copy mid-flight.
            self._pool = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("forkserver"))
        return self._pool

    async def warm(self) -> None:
        """Start the parsing processes now (they import the parser once), not with the first backlog."""
        if WORKERS >= 2:
            loop = asyncio.get_running_loop()
            pool = self._workers()
            await asyncio.gather(*(loop.run_in_executor(pool, parse_many, [], self.words, self.config.local_part) for _ in range(WORKERS)))

    # ---- the loop ----------------------------------------------------------------------------

    async def read_once(self) -> int:
        """Work through everything in the folder now; returns how many messages were filed."""
        if self._client is None:
            self._client = await asyncio.to_thread(self._connect)
        client = self._client
        total = 0
        while True:
            t0 = time.perf_counter()
            batch = await asyncio.to_thread(self._fetch, client, self.config.batch)
            self.timings.imap += time.perf_counter() - t0
            if not batch:
                return total
            where: dict[Folder, list[int]] = {Folder.PROCESSED: [], Folder.REJECTED: []}
            t1 = time.perf_counter()
            uids = list(batch)
            parsed = await self._parse([batch[uid] for uid in uids])
            t2 = time.perf_counter()
            verdicts = await mail.apply_replies(self.cx, parsed)  # one transaction for the batch
            self.timings.parse += t2 - t1
            self.timings.apply += time.perf_counter() - t2
            for uid, p, verdict in zip(uids, parsed, verdicts):
                where[verdict.folder].append(uid)
                self.timings.by_folder[verdict.folder] = self.timings.by_folder.get(verdict.folder, 0) + 1
                log.info("mail_filed", folder=verdict.folder.value, reason=verdict.reason, alert_id=verdict.alert_id, message_id=p.message_id)
            t3 = time.perf_counter()
            await asyncio.to_thread(self._file, client, where[Folder.PROCESSED], self.config.processed)
            await asyncio.to_thread(self._file, client, where[Folder.REJECTED], self.config.rejected)
            self.timings.imap += time.perf_counter() - t3
            self.timings.messages += len(batch)
            total += len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        """Read until `stop`: take the mailbox's lease, read, wait (IDLE or poll), repeat."""
        failures = 0
        held = False
        await self.warm()
        lease_seconds = max(60.0, self.config.poll_seconds * 3)
        while not stop.is_set():
            try:
                held = await mail.hold_mailbox(self.cx, self.lease, self.owner, lease_seconds)
                if not held:
                    await _sleep(stop, self.config.poll_seconds)  # another replica reads it
                    continue
                await self.read_once()
                if failures:
                    log.info("imap_connected_again", host=self.config.host)
                failures = 0
                assert self._client is not None
                # Short waits: stopping never waits long for a blocked thread, and the lease is renewed.
                await asyncio.to_thread(self._wait, self._client, min(self.config.poll_seconds, 5.0))
            except LoginError:
                failures += 1
                self._drop()
                log.error("imap_login_refused", host=self.config.host, user=self.config.username, hint="check CXBOT_IMAP_USERNAME and CXBOT_IMAP_PASSWORD")
                await _sleep(stop, min(300.0, 5.0 * 2**failures))
            except (IMAPClientError, OSError, ssl.SSLError, asyncio.TimeoutError) as e:
                failures += 1
                self._drop()
                if failures == 1 or failures % 10 == 0:
                    log.warning("imap_unavailable", host=self.config.host, port=self.config.port, error=f"{type(e).__name__}: {e}", attempt=failures)
                await _sleep(stop, min(300.0, 2.0 * 2**min(failures, 8)))
        self.close()
        if held:
            await mail.release_mailbox(self.cx, self.lease, self.owner)

    def close(self) -> None:
        self._drop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.logout()
            except Exception:  # noqa: BLE001 - the connection is gone either way
                pass


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
