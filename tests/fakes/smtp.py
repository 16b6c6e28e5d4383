"""A real SMTP server (aiosmtpd) on loopback that collects every message, for the tests.

It runs on the test's own event loop::

    async with FakeSmtp() as smtp:                          # 127.0.0.1, a free port
        await aiosmtplib.send(msg, hostname=smtp.host, port=smtp.port, start_tls=False)
        assert smtp.messages[0].rcpt_tos == ["anne@example.net"]

Options (keyword-only): ``username``/``password`` require AUTH (PLAIN or LOGIN; a wrong password is
answered ``535`` at once — the authenticator returns ``AuthResult(success=False, handled=False)``,
since ``handled=True`` would leave the client waiting for its timeout); ``tls="starttls"`` offers
STARTTLS (and by default refuses MAIL and AUTH before it, like a submission server) and
``tls="implicit"`` speaks TLS from the first byte, both with a certificate for 127.0.0.1/localhost
from a throw-away ``trustme`` CA (``SmtpTls``) whose PEM file is ``smtp.ca_pem``.

Failure switches, settable at any time: ``refuse("rcpt" | "data", code)`` answers RCPT or DATA with
that code (4xx = temporary, 5xx = permanent), optionally only ``times`` times or for one address;
``accept()`` clears them. ``await down()`` stops listening and drops open connections (clients get
"connection refused"); ``await up()`` listens again on the same port.
"""

from __future__ import annotations

import asyncio
import ssl
import tempfile
import time
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Literal

import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["FakeSmtp", "Refusal", "SmtpMessage", "SmtpTls", "TlsMode"]

TlsMode = Literal["none", "starttls", "implicit"]
Stage = Literal["rcpt", "data"]

_DEFAULT_TEXT = {
    ("rcpt", 4): "4.2.1 Mailbox temporarily unavailable, try again later",
    ("rcpt", 5): "5.1.1 No such user here",
    ("data", 4): "4.3.0 Temporary failure, try again later",
    ("data", 5): "5.7.1 Message rejected",
}


class SmtpTls:
    """A throw-away CA and a server certificate for 127.0.0.1 and localhost (``trustme``).

    ``ca_pem`` is the CA's certificate as a PEM file, for a client's ``cert_bundle`` or a setting.
    Making one costs a few ms; share it per session."""

    def __init__(self, directory: Path | None = None) -> None:
        self.ca = trustme.CA(organization_name="cxbot tests")
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost")
        folder = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="cxbot-smtp-ca-"))
        folder.mkdir(parents=True, exist_ok=True)
        self.ca_pem: Path = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_pem))

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this CA (hostname checks stay on)."""
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self.ca.configure_trust(ctx)
        return ctx


@dataclass(frozen=True, slots=True)
class SmtpMessage:
    """One message the server accepted, with its envelope."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes  # the DATA as received (dot-unstuffed, CRLF line ends)
    message: EmailMessage  # parsed with email.policy.default
    auth_user: str | None  # the login used, if the client authenticated
    tls: bool  # whether the message travelled over TLS (STARTTLS or implicit)
    at: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class Refusal:
    stage: Stage
    code: int
    text: str
    times: int | None  # None: until accept()
    address: str | None  # RCPT only: refuse just this recipient (case-insensitive)

    @property
    def reply(self) -> str:
        return f"{self.code} {self.text}"


class _Handler:
    def __init__(self, fake: FakeSmtp) -> None:
        self.fake = fake

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self.fake._take_refusal("rcpt", address)
        if refusal is not None:
            return refusal.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self.fake._take_refusal("data", None)
        if refusal is not None:
            return refusal.reply
        raw = envelope.original_content or b""
        if isinstance(envelope.content, bytes) and not raw:
            raw = envelope.content
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        transport = server.transport
        tls = session.ssl is not None or (
            transport is not None and transport.get_extra_info("ssl_object") is not None
        )
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        self.fake.messages.append(
            SmtpMessage(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                raw=raw,
                message=message,
                auth_user=login.decode() if isinstance(login, bytes) else login,
                tls=bool(tls),
            )
        )
        self.fake._arrived.set()
        return "250 OK: queued"


class FakeSmtp:
    """The fake server; see the module docstring. ``messages`` holds what it accepted, in order."""

    host: str
    port: int

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: TlsMode = "none",
        certs: SmtpTls | None = None,
        require_starttls: bool = True,
        hostname: str = "localhost",
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        if tls not in ("none", "starttls", "implicit"):
            raise ValueError(f"tls must be none, starttls or implicit, not {tls!r}")
        self.host = "127.0.0.1"
        self.port = 0
        self.username = username
        self.password = password
        self.tls: TlsMode = tls
        self.certs = certs if certs is not None or tls == "none" else SmtpTls()
        self.require_starttls = require_starttls
        self.hostname = hostname
        self.messages: list[SmtpMessage] = []
        self.refusals: list[Refusal] = []
        self.auth_failures = 0
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self._arrived = asyncio.Event()
        self._context = self.certs.server_context() if self.certs is not None and tls != "none" else None

    @property
    def ca_pem(self) -> Path | None:
        """The PEM file of the CA that signed the server's certificate (None without TLS)."""
        return self.certs.ca_pem if self.certs is not None else None

    @property
    def running(self) -> bool:
        return self._server is not None

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> FakeSmtp:
        """Listen on 127.0.0.1 (a free port the first time, the same port after ``down()``)."""
        if self._server is not None:
            return self
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol,
            self.host,
            self.port,
            ssl=self._context if self.tls == "implicit" else None,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        """Stop listening and close every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        sessions = list(self._sessions)
        tasks = []
        for session in sessions:
            task = getattr(session, "_handler_coroutine", None)
            if task is not None and not task.done():
                task.cancel()
                tasks.append(task)
            transport = getattr(session, "_original_transport", None) or session.transport
            if transport is not None:
                transport.close()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
        await asyncio.sleep(0)  # let the closed transports call connection_lost

    async def down(self) -> None:
        """Be unreachable: connections are refused until ``up()``."""
        await self.stop()

    async def up(self) -> None:
        await self.start()

    async def __aenter__(self) -> FakeSmtp:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _protocol(self) -> SMTP:
        auth = self.username is not None
        with warnings.catch_warnings():
            # aiosmtpd warns when AUTH is required without STARTTLS; the fake allows that on purpose
            # (plain AUTH on loopback, and implicit TLS, which aiosmtpd does not recognise as TLS).
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
            session = SMTP(
                _Handler(self),
                hostname=self.hostname,
                tls_context=self._context if self.tls == "starttls" else None,
                require_starttls=self.tls == "starttls" and self.require_starttls,
                auth_required=auth,
                auth_require_tls=auth and self.tls == "starttls",
                authenticator=self._authenticate if auth else None,
                loop=asyncio.get_running_loop(),
            )
        self._sessions.add(session)
        return session

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            if login == self.username and password == self.password:
                return AuthResult(success=True, auth_data=auth_data)
        self.auth_failures += 1
        return AuthResult(success=False, handled=False)  # handled=True would send nothing: the client hangs

    # ---- failure switches ------------------------------------------------------------------------

    def refuse(
        self,
        stage: Stage,
        code: int = 451,
        text: str | None = None,
        *,
        times: int | None = None,
        address: str | None = None,
    ) -> Refusal:
        """Answer RCPT or DATA with ``code`` (4xx temporary, 5xx permanent) — every time, or the next
        ``times`` times; on RCPT optionally only for ``address``. Later calls add to earlier ones."""
        if stage not in ("rcpt", "data"):
            raise ValueError(f"stage must be 'rcpt' or 'data', not {stage!r}")
        if not 400 <= code <= 599:
            raise ValueError("code must be 4xx (temporary) or 5xx (permanent)")
        if address is not None and stage != "rcpt":
            raise ValueError("address only applies to rcpt")
        refusal = Refusal(stage, code, text or _DEFAULT_TEXT[(stage, code // 100)], times, address)
        self.refusals.append(refusal)
        return refusal

    def accept(self) -> None:
        """Clear every refusal."""
        self.refusals.clear()

    def _take_refusal(self, stage: Stage, address: str | None) -> Refusal | None:
        for refusal in self.refusals:
            if refusal.stage != stage:
                continue
            if refusal.address is not None and (address or "").lower() != refusal.address.lower():
                continue
            if refusal.times is not None:
                refusal.times -= 1
                if refusal.times <= 0:
                    self.refusals.remove(refusal)
            return refusal
        return None

    # ---- reading ---------------------------------------------------------------------------------

    def to(self, address: str) -> list[SmtpMessage]:
        """Messages whose envelope names ``address`` (case-insensitive)."""
        wanted = address.lower()
        return [m for m in self.messages if wanted in (r.lower() for r in m.rcpt_tos)]

    async def wait_for(self, count: int = 1, timeout: float = 5.0) -> Sequence[SmtpMessage]:
        """Wait until at least ``count`` messages have arrived; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            self._arrived.clear()
            if len(self.messages) >= count:
                return list(self.messages)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{len(self.messages)} message(s) arrived, wanted {count} within {timeout} s")
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                pass

    def clear(self) -> None:
        self.messages.clear()
