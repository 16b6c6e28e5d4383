"""A fake Slack Web API over real HTTP on loopback that records every call and can be scripted.

Three ways to run it:
- on the test's own event loop: ``async with FakeSlack() as slack:`` (or ``await slack.start()`` / ``stop()``);
- in a thread with a loop of its own (benchmarks): ``with FakeSlack() as slack:``;
- in a process of its own: ``python -m tests.fakes.slack_api --port N`` prints the base URL on its first
  line and serves until SIGINT/SIGTERM; ``GET /_fake/calls`` and ``POST /_fake/{fail,error,tokens,reset}``
  read and script it from outside (``at`` is ``time.monotonic()``, one clock for every process on Linux).

Point slack_sdk at ``slack.url`` (it ends in ``/api/``). Slack answers API errors with HTTP 200 and
``{"ok": false, "error": ...}``; only rate limits (429 + ``Retry-After``) and outages (5xx) use other
statuses — ``error()`` and ``fail()`` script those two kinds. The hot path does no logging and no sleeping:
benchmarks push thousands of calls a second through it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

__all__ = ["Call", "FakeSlack", "BOT_USER_ID", "BOT_ID", "APP_ID", "DEFAULT_TEAM"]

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
APP_ID = "A0FAKEAPP"
DEFAULT_TEAM = "T0DEFAULT"
DEFAULT_SCOPE = "chat:write,chat:write.public,commands,channels:history,groups:history,users:read,team:read"

# Methods that authenticate with the app's client id and secret, not a bearer token.
_NO_TOKEN_METHODS = frozenset({"oauth.v2.access", "oauth.v2.exchange", "oauth.access", "api.test"})
_ERROR_FOR_STATUS = {429: "ratelimited", 500: "fatal_error", 502: "bad_gateway", 503: "service_unavailable"}

Answer = dict[str, Any] | Callable[["Call"], dict[str, Any]]


@dataclass(slots=True, eq=False)
class Call:
    """One request the fake received. ``body`` holds the query parameters, then the JSON or form fields
    (JSON values kept as sent, form values as strings). ``headers`` is case-insensitive."""

    method: str
    headers: Mapping[str, str]
    body: dict[str, Any]
    token: str | None
    at: float  # time.monotonic() on arrival
    status: int = 200  # the HTTP status answered
    response: dict[str, Any] = field(default_factory=dict)  # the JSON answered
    basic_auth: tuple[str, str] | None = None  # (client_id, client_secret) from HTTP Basic auth (oauth.v2.access)

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "body": self.body,
            "token": self.token,
            "at": self.at,
            "status": self.status,
            "response": self.response,
        }


class FakeSlack:
    """The fake server. Attributes tests may set at any time:

    ``tokens``: ``None`` (default) accepts any token; a dict ``{token: team_id}`` makes calls with an unknown
    or missing token answer ``invalid_auth`` / ``not_authed`` and gives ``auth.test`` its team. Tokens issued
    by ``oauth.v2.access`` are always known. ``oauth_team`` = ``(team_id, team_name)`` that the next
    ``oauth.v2.access`` installs into; ``oauth_user`` the installing user; ``oauth_scope`` the granted scopes;
    ``oauth_client`` = ``(client_id, client_secret)`` to check them (``None``: accept any).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.url = ""
        self.calls: list[Call] = []
        self.tokens: dict[str, str] | None = tokens
        self.oauth_team: tuple[str, str] = (DEFAULT_TEAM, "Default Workspace")
        self.oauth_user = "U0INSTALLER"
        self.oauth_scope = DEFAULT_SCOPE
        self.oauth_client: tuple[str, str] | None = None
        self.issued: dict[str, str] = {}  # token -> team_id, from oauth.v2.access
        self._by_method: dict[str, list[Call]] = {}
        self._script: dict[str, deque[tuple[Any, ...]]] = {}
        self._answers: dict[str, Answer] = {}
        self._ts = itertools.count(100, 100)  # microseconds after 1700000000
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self._defaults: dict[str, Callable[[Call], dict[str, Any]]] = {
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.delete": self._delete,
            "views.open": self._view,
            "views.update": self._view,
            "views.push": self._view,
            "views.publish": self._view,
            "auth.test": self._auth_test,
            "oauth.v2.access": self._oauth_v2_access,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "team.info": self._team_info,
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Serve on the running loop; sets ``url`` (``http://127.0.0.1:PORT/api/``)."""
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_get("/api/{method}", self._handle)
        app.router.add_get("/_fake/calls", self._control_calls)
        app.router.add_post("/_fake/{action}", self._control)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        self.url = f"http://{self.host}:{self.port}/api/"

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_thread(self, timeout: float = 10.0) -> FakeSlack:
        """Serve from a daemon thread with an event loop of its own (for benchmarks)."""
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._thread_loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as e:  # noqa: BLE001 - handed to the starting thread
                failure.append(e)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-slack", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise TimeoutError("fake Slack did not start")
        if failure:
            raise failure[0]
        return self

    def stop_thread(self, timeout: float = 10.0) -> None:
        loop, thread = self._thread_loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = self._thread_loop = None

    def __enter__(self) -> FakeSlack:
        return self.start_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop_thread()

    # ------------------------------------------------------------------ what arrived

    def calls_to(self, method: str) -> list[Call]:
        return list(self._by_method.get(method, ()))

    def last(self, method: str) -> Call:
        calls = self._by_method.get(method)
        if not calls:
            raise AssertionError(f"no {method} call arrived; got: {self._summary()}")
        return calls[-1]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Poll until ``count`` calls to ``method`` arrived (any answer); returns all calls to it so far."""
        deadline = time.monotonic() + timeout
        while True:
            calls = self._by_method.get(method, ())
            if len(calls) >= count:
                return list(calls)
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"waited {timeout}s for {count} {method} call(s), got {len(calls)}; all calls: {self._summary()}"
                )
            await asyncio.sleep(0.005)

    def reset(self) -> None:
        """Forget calls, scripted failures and answers (``ts`` and ids keep increasing)."""
        self.calls.clear()
        self._by_method.clear()
        self._script.clear()
        self._answers.clear()

    def _summary(self) -> str:
        return ", ".join(f"{c.method}:{c.status}" for c in self.calls[-20:]) or "none"

    # ------------------------------------------------------------------ scripting

    def fail(self, method: str, status: int = 429, retry_after: int | None = 1, times: int = 1) -> None:
        """The next ``times`` calls to ``method`` (``"*"``: any method) answer HTTP ``status``; a 429 carries
        ``Retry-After: retry_after`` and Slack's ``{"ok": false, "error": "ratelimited"}``."""
        outcome = ("fail", status, retry_after)
        self._script.setdefault(method, deque()).extend([outcome] * times)

    def error(self, method: str, error: str = "channel_not_found", times: int = 1) -> None:
        """The next ``times`` calls to ``method`` (``"*"``: any method) answer HTTP 200
        ``{"ok": false, "error": error}``."""
        self._script.setdefault(method, deque()).extend([("error", error)] * times)

    def answer(self, method: str, response: Answer) -> None:
        """Answer every later call to ``method`` with ``response`` (a dict, or a function of the ``Call``)
        instead of the default; scripted ``fail``/``error`` outcomes still come first."""
        self._answers[method] = response

    def next_ts(self) -> str:
        n = next(self._ts)
        return f"{1700000000 + n // 1_000_000}.{n % 1_000_000:06d}"

    def team_of(self, token: str | None) -> str | None:
        if token is None:
            return None
        if self.tokens is not None and token in self.tokens:
            return self.tokens[token]
        return self.issued.get(token)

    # ------------------------------------------------------------------ the hot path

    async def _handle(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        method = request.match_info["method"]
        ctype = request.content_type
        body: dict[str, Any]
        if ctype == "application/json":
            raw = await request.read()
            parsed = json.loads(raw) if raw else {}
            body = parsed if isinstance(parsed, dict) else {"_json": parsed}
        elif ctype == "application/x-www-form-urlencoded":
            raw = await request.read()
            body = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        elif ctype.startswith("multipart/"):
            form = await request.post()
            body = {k: (v if isinstance(v, str) else getattr(v, "filename", "")) for k, v in form.items()}
        else:
            body = {}
        if request.query:
            body = {**request.query, **body}
        headers = request.headers
        auth = headers.get("Authorization")
        token: str | None = None
        basic: tuple[str, str] | None = None
        if auth:
            if auth.startswith("Bearer "):
                token = auth[7:]
            elif auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                basic = (user, password)
        if token is None:
            token = body.get("token")

        call = Call(method, headers, body, token, at, basic_auth=basic)
        self.calls.append(call)
        by_method = self._by_method.get(method)
        if by_method is None:
            self._by_method[method] = [call]
        else:
            by_method.append(call)

        extra_headers: dict[str, str] | None = None
        outcome = self._next_outcome(method) if self._script else None
        if outcome is None:
            response = self._respond(call)
        elif outcome[0] == "fail":
            _, status, retry_after = outcome
            call.status = status
            response = {"ok": False, "error": _ERROR_FOR_STATUS.get(status, "fatal_error")}
            if status == 429 and retry_after is not None:
                extra_headers = {"Retry-After": str(retry_after)}
        else:
            response = {"ok": False, "error": outcome[1]}
        call.response = response
        return web.Response(
            body=json.dumps(response).encode(),
            status=call.status,
            content_type="application/json",
            headers=extra_headers,
        )

    def _next_outcome(self, method: str) -> tuple[Any, ...] | None:
        for key in (method, "*"):
            queue = self._script.get(key)
            if queue:
                outcome = queue.popleft()
                if not queue:
                    del self._script[key]
                return outcome
        return None

    def _respond(self, call: Call) -> dict[str, Any]:
        if self.tokens is not None and call.method not in _NO_TOKEN_METHODS:
            if not call.token:
                return {"ok": False, "error": "not_authed"}
            if self.team_of(call.token) is None:
                return {"ok": False, "error": "invalid_auth"}
        custom = self._answers.get(call.method)
        if custom is not None:
            return custom(call) if callable(custom) else custom
        default = self._defaults.get(call.method)
        return default(call) if default is not None else {"ok": True}

    # ------------------------------------------------------------------ default answers

    def _team(self, call: Call) -> str:
        return self.team_of(call.token) or DEFAULT_TEAM

    def _post_message(self, call: Call) -> dict[str, Any]:
        b = call.body
        channel = b.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not (b.get("text") or b.get("blocks") or b.get("attachments")):
            return {"ok": False, "error": "no_text"}
        ts = self.next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": self._team(call),
            "text": b.get("text", ""),
            "ts": ts,
        }
        if "blocks" in b:
            message["blocks"] = b["blocks"]
        if b.get("thread_ts"):
            message["thread_ts"] = b["thread_ts"]
            message["parent_user_id"] = BOT_USER_ID
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, call: Call) -> dict[str, Any]:
        b = call.body
        if not b.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not b.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        message = {"text": b.get("text", ""), "user": BOT_USER_ID, "bot_id": BOT_ID}
        if "blocks" in b:
            message["blocks"] = b["blocks"]
        return {"ok": True, "channel": b["channel"], "ts": b["ts"], "text": b.get("text", ""), "message": message}

    def _post_ephemeral(self, call: Call) -> dict[str, Any]:
        if not call.body.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not call.body.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self.next_ts()}

    def _delete(self, call: Call) -> dict[str, Any]:
        return {"ok": True, "channel": call.body.get("channel"), "ts": call.body.get("ts")}

    def _view(self, call: Call) -> dict[str, Any]:
        view = call.body.get("view") or {}
        if isinstance(view, str):
            view = json.loads(view)
        view_id = call.body.get("view_id") or f"V{next(self._ids):010d}"
        return {
            "ok": True,
            "view": {
                "id": view_id,
                "team_id": self._team(call),
                "type": view.get("type", "modal"),
                "callback_id": view.get("callback_id", ""),
                "private_metadata": view.get("private_metadata", ""),
                "external_id": view.get("external_id", ""),
                "title": view.get("title"),
                "submit": view.get("submit"),
                "close": view.get("close"),
                "blocks": view.get("blocks", []),
                "state": {"values": {}},
                "hash": f"1700000000.{next(self._ids):08d}",
                "clear_on_close": False,
                "notify_on_close": False,
                "previous_view_id": None,
                "root_view_id": view_id,
                "app_id": APP_ID,
                "app_installed_team_id": self._team(call),
                "bot_id": BOT_ID,
            },
        }

    def _auth_test(self, call: Call) -> dict[str, Any]:
        team = self._team(call)
        return {
            "ok": True,
            "url": f"https://{team.lower()}.slack.com/",
            "team": f"Workspace {team}",
            "user": "cxbot",
            "team_id": team,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _oauth_v2_access(self, call: Call) -> dict[str, Any]:
        b = call.body
        client_id, client_secret = call.basic_auth or (b.get("client_id", ""), b.get("client_secret", ""))
        if self.oauth_client is not None:
            if client_id != self.oauth_client[0]:
                return {"ok": False, "error": "invalid_client_id"}
            if client_secret != self.oauth_client[1]:
                return {"ok": False, "error": "bad_client_secret"}
        if not b.get("code") and b.get("grant_type") != "refresh_token":
            return {"ok": False, "error": "invalid_code"}
        team_id, team_name = self.oauth_team
        token = f"xoxb-{team_id}-{next(self._ids):011d}-fake"
        self.issued[token] = team_id
        return {
            "ok": True,
            "app_id": APP_ID,
            "authed_user": {"id": self.oauth_user},
            "scope": self.oauth_scope,
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": BOT_USER_ID,
            "team": {"id": team_id, "name": team_name},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _users_info(self, call: Call) -> dict[str, Any]:
        user = call.body.get("user") or "U0UNKNOWN"
        team = self._team(call)
        return {
            "ok": True,
            "user": {
                "id": user,
                "team_id": team,
                "name": user.lower(),
                "real_name": f"User {user}",
                "deleted": False,
                "is_bot": False,
                "tz": "Europe/Copenhagen",
                "tz_label": "Central European Time",
                "tz_offset": 3600,
                "profile": {
                    "real_name": f"User {user}",
                    "display_name": user.lower(),
                    "email": f"{user.lower()}@example.com",
                },
            },
        }

    def _conversations_info(self, call: Call) -> dict[str, Any]:
        channel = call.body.get("channel") or "C0UNKNOWN"
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": channel.lower(),
                "is_channel": True,
                "is_private": False,
                "is_archived": False,
                "is_member": True,
                "context_team_id": self._team(call),
            },
        }

    def _team_info(self, call: Call) -> dict[str, Any]:
        team = call.body.get("team") or self._team(call)
        return {"ok": True, "team": {"id": team, "name": f"Workspace {team}", "domain": team.lower()}}

    # ------------------------------------------------------------------ control (for a fake in another process)

    async def _control_calls(self, request: web.Request) -> web.Response:
        method = request.query.get("method")
        since = int(request.query.get("since", "0"))
        source = self._by_method.get(method, []) if method else self.calls
        return web.json_response({"count": len(source), "calls": [c.as_json() for c in source[since:]]})

    async def _control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        args = await request.json() if request.can_read_body else {}
        if action == "fail":
            self.fail(**args)
        elif action == "error":
            self.error(**args)
        elif action == "tokens":
            self.tokens = args or None
        elif action == "oauth_team":
            self.oauth_team = (args["team_id"], args["team_name"])
        elif action == "reset":
            self.reset()
        else:
            raise web.HTTPNotFound()
        return web.json_response({"ok": True})


async def _serve(host: str, port: int) -> None:
    slack = FakeSlack(host=host, port=port)
    await slack.start()
    print(slack.url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await slack.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the fake Slack Web API until SIGINT/SIGTERM.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
