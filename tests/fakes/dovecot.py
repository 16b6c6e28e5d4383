"""A real Dovecot IMAP server on loopback for the tests: one per test session, a fresh user per test.

``Dovecot.start()`` writes a standalone config in a temp folder (never ``/etc/dovecot``) and runs
``dovecot -F -c DIR/dovecot.conf`` as a child process (``-F``: no daemonising, so the master stays our
child and is reaped on stop; its pid is also in ``DIR/run/master.pid``). Start to first login takes
~0.1 s; a graceful stop ~1–3 s, which is why a session starts it once.

Users live in a ``passwd-file`` ({PLAIN} passwords) that Dovecot re-reads when it changes — but it
looks at most once per wall-clock second, so ``new_user()`` hands out users from a pool written ahead
in batches: no reload, no restart, normally no wait. Each user gets its own maildir under
``DIR/mail/<name>``, as ``nobody``/``nogroup`` when run as root (Dovecot refuses uid 0 for mail);
as another user everything runs as that user (rootless config, no chroot).

Tuned for tests: auth penalty off (``anvil-auth-penalty`` socket unusable, ``auth_failure_delay = 0``;
a wrong password still takes ~0.5 s, Dovecot's failure-flush timer), no fsync, IDLE and MOVE offered
(IDLE reports a new message ≥ 0.5 s after it arrives, hard-coded in Dovecot). Plain IMAP only:
``IMAPClient(host, port, ssl=False)``.
"""

from __future__ import annotations

import contextlib
import grp
import itertools
import math
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from imapclient import IMAPClient

__all__ = ["DOVECOT_BINARY", "Dovecot", "DovecotError", "MailUser"]

DOVECOT_BINARY = "/usr/sbin/dovecot"


class DovecotError(RuntimeError):
    """Dovecot would not start (the message ends with the tail of its log)."""


@dataclass(frozen=True, slots=True)
class MailUser:
    """One IMAP login with a mailbox of its own."""

    name: str
    password: str

    def __repr__(self) -> str:  # the password is a test secret, but keep it out of assertion output anyway
        return f"MailUser(name={self.name!r})"


_CONFIG = """\
# Written by tests/fakes/dovecot.py: a standalone test instance, no conf.d includes.
instance_name = {instance}
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_cache_size = 0
mail_location = maildir:~/Maildir
mail_fsync = never
mail_max_userip_connections = 200
recipient_delimiter = +
{identity}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/users
  default_fields = uid={uid} gid={gid} home={dir}/mail/%u
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
{service_extra}}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
{service_extra}}}
"""


_POOL_BATCH = 200  # users written to the passwd-file at a time
_POOL_LOW = 50  # write the next batch when this few are left, so it is visible before it is needed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    """A running Dovecot instance. Build it with ``Dovecot.start()``; ``stop()`` (or ``with``) ends it."""

    host: str
    port: int
    root: Path

    _process: subprocess.Popen[bytes]

    def __init__(self, root: Path, port: int, own_root: bool) -> None:
        """Use ``Dovecot.start()``."""
        self.host = "127.0.0.1"
        self.port = port
        self.root = root
        self._own_root = own_root
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self._pool: deque[tuple[MailUser, float]] = deque()
        self._started = False
        self._write_batch()  # written before Dovecot starts: no wait for these
        self._started = True

    # ---- lifecycle -------------------------------------------------------------------------------

    @classmethod
    def start(cls, binary: str = DOVECOT_BINARY, root: Path | None = None, timeout: float = 10.0) -> Dovecot:
        """Write the config, start the master and wait until the IMAP port answers.

        ``root``: an empty folder to use (made 0755, left in place on stop); by default a temp folder
        that ``stop()`` removes."""
        if not os.path.exists(binary):
            raise FileNotFoundError(f"{binary} is not installed (Debian package dovecot-imapd)")
        own_root = root is None
        base = Path(tempfile.mkdtemp(prefix="cxbot-dovecot-")) if root is None else Path(root)
        base.mkdir(parents=True, exist_ok=True)
        base.chmod(0o755)  # dovecot and dovenull must traverse it; mkdtemp makes 0700
        try:
            last: Exception | None = None
            for _attempt in range(3):  # a free port may be taken between choosing and binding it
                try:
                    return cls._start_once(binary, base, own_root, timeout)
                except DovecotError as e:
                    last = e
                    if "in use" not in str(e):
                        raise
            assert last is not None
            raise last
        except BaseException:
            if own_root:
                shutil.rmtree(base, ignore_errors=True)
            raise

    @classmethod
    def _start_once(cls, binary: str, base: Path, own_root: bool, timeout: float) -> Dovecot:
        port = _free_port()
        mail = base / "mail"
        mail.mkdir(exist_ok=True)
        users = base / "users"
        users.write_bytes(b"")
        users.chmod(0o644)  # read by the auth process, which runs as the dovecot user
        log = base / "dovecot.log"
        if log.exists():
            log.unlink()
        if os.geteuid() == 0:
            owner = pwd.getpwnam("nobody")  # Dovecot refuses uid 0 for mail
            uid = owner.pw_uid
            gid = grp.getgrnam("nogroup").gr_gid if _has_group("nogroup") else owner.pw_gid
            identity, service_extra = "", ""
        else:  # rootless: every process runs as the current user (no chroot, no user switching)
            uid, gid = os.getuid(), os.getgid()
            me, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
            identity = f"default_internal_user = {me}\ndefault_internal_group = {group}\ndefault_login_user = {me}\n"
            service_extra = "  chroot =\n"
        os.chown(mail, uid, gid)
        config = _CONFIG.format(
            instance=f"cxbot-test-{os.getpid()}-{secrets.token_hex(3)}",
            dir=base,
            port=port,
            uid=uid,
            gid=gid,
            identity=identity,
            service_extra=service_extra,
        )
        conf = base / "dovecot.conf"
        conf.write_text(config, encoding="utf-8")
        conf.chmod(0o644)
        server = cls(base, port, own_root)  # writes the first users
        with open(base / "stderr.log", "wb") as err:
            server._process = process = subprocess.Popen(
                [binary, "-F", "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal reaches pytest, which stops us
            )
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                process.wait()
                raise DovecotError(f"dovecot exited with {process.returncode}:\n{server._log_tail()}")
            try:
                with socket.create_connection((server.host, port), timeout=0.5) as s:
                    if s.recv(64).startswith(b"* OK"):
                        return server
            except OSError:
                pass
            if time.monotonic() > deadline:
                server._halt()
                raise DovecotError(f"dovecot did not answer on {port} within {timeout} s:\n{server._log_tail()}")
            time.sleep(0.01)

    def stop(self, timeout: float = 15.0) -> None:
        """Graceful stop: SIGTERM to the master (pid from run/master.pid), wait, SIGKILL if it hangs."""
        self._halt(timeout)
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def _halt(self, timeout: float = 15.0) -> None:
        process = self._process
        if process.poll() is None:
            pid = process.pid
            with contextlib.suppress(OSError, ValueError):
                pid = int((self.root / "run" / "master.pid").read_text().strip() or pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        else:
            process.wait()

    def __enter__(self) -> Dovecot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    @property
    def log_path(self) -> Path:
        return self.root / "dovecot.log"

    def _log_tail(self, lines: int = 30) -> str:
        text = ""
        for name in ("stderr.log", "dovecot.log"):
            with contextlib.suppress(OSError):
                text += (self.root / name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # ---- users -----------------------------------------------------------------------------------

    def new_user(self) -> MailUser:
        """A user of its own with an empty mailbox and a random password, usable at once.

        Dovecot re-reads the passwd-file when it changes, but checks at most once per wall-clock second:
        a line appended in the second of the last lookup shows only from the next second. So users come
        from a pool written ahead (``_POOL_BATCH`` at start, the next batch when it runs low); only a user
        from a batch written less than a second ago waits, until that batch is visible."""
        with self._lock:
            if len(self._pool) <= _POOL_LOW:
                self._write_batch()
            user, visible_at = self._pool.popleft()
        wait = visible_at - time.time()
        if wait > 0:
            time.sleep(wait)
        return user

    def _write_batch(self) -> None:
        users = [MailUser(f"user{next(self._serial):05d}", secrets.token_hex(8)) for _ in range(_POOL_BATCH)]
        with open(self.root / "users", "a", encoding="utf-8") as f:
            f.writelines(f"{u.name}:{{PLAIN}}{u.password}::::::\n" for u in users)
        visible_at = 0.0 if not self._started else math.floor(time.time()) + 1.02
        self._pool.extend((u, visible_at) for u in users)

    # ---- IMAP helpers ----------------------------------------------------------------------------

    def connect(self, user: MailUser, timeout: float = 10.0) -> IMAPClient:
        """A logged-in client; use it in ``with`` so it logs out."""
        client = IMAPClient(self.host, self.port, ssl=False, timeout=timeout)
        try:
            client.login(user.name, user.password)
        except BaseException:
            client.shutdown()
            raise
        return client

    @contextlib.contextmanager
    def client(self, user: MailUser) -> Iterator[IMAPClient]:
        with self.connect(user) as c:
            yield c

    def append(
        self, user: MailUser, raw: bytes, folder: str = "INBOX", flags: Iterable[bytes | str] = ()
    ) -> None:
        """Put one raw message in a folder (made if missing) with IMAP APPEND, as a mail server would."""
        with self.client(user) as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            c.append(folder, raw, flags=tuple(flags))

    def folder(self, user: MailUser, name: str) -> list[bytes]:
        """The raw messages in a folder in UID order (read with BODY.PEEK[], so \\Seen is left alone);
        [] when the folder does not exist."""
        with self.client(user) as c:
            if not c.folder_exists(name):
                return []
            c.select_folder(name, readonly=True)
            uids = c.search("ALL")
            if not uids:
                return []
            got = c.fetch(uids, ["BODY.PEEK[]"])
            return [got[uid][b"BODY[]"] for uid in sorted(got)]

    def folders(self, user: MailUser) -> list[str]:
        """Every folder's name (INBOX included; the hierarchy separator is '.')."""
        with self.client(user) as c:
            return [name for _flags, _sep, name in c.list_folders()]

    def wait_for(self, user: MailUser, name: str, count: int = 1, timeout: float = 5.0) -> list[bytes]:
        """Poll until a folder holds at least ``count`` messages; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.folder(user, name)
            if len(messages) >= count:
                return messages
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{name!r} of {user.name} holds {len(messages)} message(s), wanted {count} within {timeout} s"
                )
            time.sleep(0.02)


def _has_group(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True
