"""SMTP with aiosmtplib: one connection kept open and reused; SMTP's answers become delivery
errors (4xx and a server that is down: try later; 5xx for a recipient: never)."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib
import structlog

from bot.domain.errors import PermanentFailure, RetryLater

log = structlog.get_logger()


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: str = "none"  # none | starttls | implicit
    ca_file: str | None = None
    timeout: float = 30.0


class SmtpSender:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._client: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()  # one SMTP conversation at a time on the shared connection

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.config.tls == "none":
            return None
        return ssl.create_default_context(cafile=self.config.ca_file)

    async def _connect(self) -> aiosmtplib.SMTP:
        c = self.config
        client = aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            timeout=c.timeout,
            use_tls=c.tls == "implicit",
            start_tls=c.tls == "starttls",  # never "upgrade if offered": the setting decides
            tls_context=self._tls_context(),
            username=c.username,
            password=c.password,
        )
        await client.connect()
        return client

    async def send(self, message: EmailMessage, envelope_from: str, recipients: list[str]) -> None:
        async with self._lock:
            for attempt in (1, 2):  # a reused connection the server closed meanwhile gets one reconnect
                try:
                    if self._client is None or not self._client.is_connected:
                        self._client = await self._connect()
                    errors, _ = await self._client.send_message(message, sender=envelope_from, recipients=recipients)
                    refused = {addr: err for addr, err in errors.items()}
                    if refused:
                        raise _refused(refused)
                    return
                except aiosmtplib.SMTPServerDisconnected:
                    self._client = None
                    if attempt == 2:
                        raise RetryLater(f"the mail server {self.config.host} closed the connection") from None
                except aiosmtplib.SMTPRecipientsRefused as e:
                    raise _refused({r.recipient: (r.code, r.message) for r in e.recipients}) from None
                except aiosmtplib.SMTPResponseException as e:
                    await self._drop()
                    if e.code in (530, 534, 535):
                        raise RetryLater(f"the mail server refused cxbot's login ({e.code}): check CXBOT_SMTP_USERNAME and _PASSWORD") from None
                    if 500 <= e.code < 600:
                        raise PermanentFailure(f"the mail server refused the message: {e.code} {e.message}") from None
                    raise RetryLater(f"the mail server answered {e.code} {e.message}") from None
                except (aiosmtplib.SMTPException, OSError, ssl.SSLError, asyncio.TimeoutError) as e:
                    # ssl.SSLCertVerificationError is an OSError, not an SMTPException: same path.
                    await self._drop()
                    raise RetryLater(f"cannot reach the mail server {self.config.host}:{self.config.port}: {type(e).__name__}: {e}") from None

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail; it is gone either way
                pass

    async def close(self) -> None:
        async with self._lock:
            if self._client is not None and self._client.is_connected:
                try:
                    await self._client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    pass
            self._client = None


def _refused(errors: dict[str, tuple[int, str]]) -> Exception:
    codes = [code for code, _ in errors.values()]
    detail = "; ".join(f"{addr}: {code} {msg}" for addr, (code, msg) in errors.items())
    if all(500 <= c < 600 for c in codes):
        return PermanentFailure(f"the mail server refused the recipient: {detail}")
    return RetryLater(f"the mail server deferred the recipient: {detail}")
