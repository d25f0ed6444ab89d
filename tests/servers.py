"""Real, throw-away servers for the test suite: Dovecot (IMAP), an SMTP sink and PostgreSQL.

Why real servers instead of mocks: the daemon's correctness depends on what an IMAP server
really answers (UIDs, UIDVALIDITY, SPECIAL-USE, flags, internal dates) and on what an SMTP
server really does when it refuses a message. Mocks would encode our own assumptions.

Every server listens on a free port on 127.0.0.1 only, keeps all of its files in the
directory it is given, and is stopped by the caller (the pytest fixtures in conftest.py).
Measured facts behind the choices here are in the comments below (Debian 12, Dovecot 2.3.19.1,
PostgreSQL 15, run as root).
"""

from __future__ import annotations

import base64
import ctypes
import email
import email.policy
import glob
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Self

LOOPBACK = "127.0.0.1"

# SmtpSink(credentials=...) offers AUTH without TLS on purpose (loopback, test only);
# aiosmtpd warns about that at every connection.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS", category=UserWarning)

# Unix socket paths are limited to 107 bytes; Dovecot's longest socket name under base_dir
# is "replication-notify-fifo" (plus "login/" style sub-directories).
_MAX_SOCKET_DIR_LENGTH = 70


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that is free right now on ``host``.

    The kernel picks it (bind to port 0). Another process could take it before our server
    binds it; the servers below retry with a new port when that happens.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _log_tail(*paths: Path, lines: int = 30) -> str:
    """Last lines of the given log files, for error messages that explain a failed start."""
    parts = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            continue
        tail = "\n".join(text.splitlines()[-lines:])
        if tail:
            parts.append(f"--- {path} (last {lines} lines) ---\n{tail}")
    return "\n".join(parts) if parts else "(no log output)"


def _grant_traverse(path: Path, user: str) -> None:
    """Let another system user (dovecot, postgres) walk down to ``path``.

    The servers drop privileges to their own users, which must reach their files below
    ``path``. pytest creates its temporary directories with mode 0700, so we add the
    "search" bit (o+x, not read: nothing becomes listable) to ``path`` and to its
    ancestors inside the system temporary directory. Anything above that (say /root,
    mode 0700) is left alone: changing it would outlive the tests, so we explain instead.
    """
    temp_root = Path(tempfile.gettempdir()).resolve()
    for directory in [path, *path.parents]:
        st = directory.stat()
        if st.st_mode & stat.S_IXOTH:
            continue
        if directory == path or directory.is_relative_to(temp_root):
            os.chmod(directory, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
        else:
            raise RuntimeError(
                f"the system user {user!r} cannot reach {path}: {directory} has mode "
                f"{stat.S_IMODE(st.st_mode):o}; use a directory under {temp_root} "
                f"(pytest's default) or chmod o+x {directory}"
            )


def _load_prctl() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


# Looked up once in the parent: the child of a fork must not take the dynamic loader's lock.
_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _set_parent_death_signal() -> None:
    """In the child before exec: get SIGTERM when the parent (pytest) dies.

    Keeps a killed test run from leaving Dovecot instances behind. Linux only; best
    effort, as it only matters for clean-up after a crash.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _missing_program(program: str, package: str, searched: str) -> RuntimeError:
    return RuntimeError(
        f"{program!r} is not installed (looked in {searched}); "
        f"install the Debian package {package!r}: apt-get install -y {package}"
    )


# --------------------------------------------------------------------------------------
# Dovecot
# --------------------------------------------------------------------------------------

_USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@-]{0,99}$")
_APPENDUID_RE = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")


class DovecotServer:
    """A private Dovecot IMAP server on a free loopback port, with all files in ``base_dir``.

    Layout of ``base_dir``::

        dovecot.conf      generated configuration (``dovecot -n -c`` checks it)
        dovecot.log       Dovecot's own log (auth failures are logged verbosely)
        dovecot.stderr    early start-up errors, before the log file is opened
        run/              Dovecot's base_dir: sockets and master.pid
        state/            Dovecot's state_dir
        users/<name>      one passwd-file per user (see add_user for why)
        mail/<name>/      home of each user, maildir in mail/<name>/Maildir

    Users are added with :meth:`add_user`, before or while the server runs.

    Mailboxes use the maildir format with ``LAYOUT=fs`` and ``/`` as hierarchy separator,
    like most public servers: a ``.`` is allowed in a folder name (Maildir++ would refuse
    it with ``/`` as separator); only ``cur``, ``new`` and ``tmp`` are reserved names.
    """

    def __init__(
        self,
        base_dir: Path,
        sent_folder_name: str = "Sent",
        *,
        separator: str = "/",
        special_use: bool = True,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        oauth2_tokeninfo_url: str | None = None,
    ) -> None:
        """Prepare (but do not start) a server.

        ``sent_folder_name`` is the name of the folder flagged ``\\Sent``; a test can pick a
        localised, non-ASCII one (e.g. "Éléments envoyés") to check that the code under
        test finds the folder by its SPECIAL-USE flag and not by its name. It may contain
        the hierarchy ``separator`` (``/`` or ``.``), e.g. Gmail's "[Gmail]/Messages envoyés".
        With ``special_use=False`` no folder carries a SPECIAL-USE flag (older or minimal
        servers). With ``tls_cert`` and ``tls_key`` (PEM files) the server offers STARTTLS on
        :attr:`port` and implicit TLS on :attr:`tls_port`; without them it has no TLS at all.

        ``oauth2_tokeninfo_url`` adds Dovecot's ``oauth2`` passdb for the XOAUTH2 and OAUTHBEARER
        mechanisms: Dovecot asks that URL (with the token appended) who the token belongs to,
        and accepts the login when the answer's ``email`` is the user name. Passwords then only
        work through PLAIN/LOGIN for users added with :meth:`add_user`; any other user name
        (the static userdb gives every name a mailbox) can only log in with a token.
        """
        if not sent_folder_name or any(ch in sent_folder_name for ch in '"\\') or not sent_folder_name.isprintable():
            raise ValueError(f"unsupported Sent folder name for the test server: {sent_folder_name!r}")
        if separator not in ("/", "."):
            raise ValueError(f"unsupported hierarchy separator for the test server: {separator!r}")
        if separator == "." and "/" in sent_folder_name:
            raise ValueError(f"{sent_folder_name!r}: '/' is refused in a name when the separator is '.'")
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("give both tls_cert and tls_key, or neither")
        self.base_dir = Path(base_dir).resolve()
        self.sent_folder_name = sent_folder_name
        self.separator = separator
        self.special_use = special_use
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.tls_port: int = 0
        self.oauth2_tokeninfo_url = oauth2_tokeninfo_url
        self.host = LOOPBACK
        self.port: int = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._passwords: dict[str, str] = {}
        self._lock = threading.Lock()

        self.config_path = self.base_dir / "dovecot.conf"
        self.log_path = self.base_dir / "dovecot.log"
        self.stderr_path = self.base_dir / "dovecot.stderr"
        self.run_dir = self.base_dir / "run"
        self.state_dir = self.base_dir / "state"
        self.users_dir = self.base_dir / "users"
        self.mail_dir = self.base_dir / "mail"

        binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
        if binary is None:
            raise _missing_program("dovecot", "dovecot-imapd", "PATH, /usr/sbin, /usr/local/sbin")
        self.binary = binary

    # -- life cycle ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        """Write the configuration, start ``dovecot -F`` and wait until it greets clients.

        The port is chosen on the first start and kept by :meth:`restart`, so clients
        configured with it can reconnect. If the port was taken by someone else between
        choosing and binding it, a first start retries with a new port.
        """
        if self.running:
            raise RuntimeError("Dovecot is already running")
        self._prepare_directories()
        keep_port = self.port != 0
        attempts = 3
        for attempt in range(attempts):
            if not keep_port:
                self.port = free_port()
                if self.tls_cert is not None:
                    self.tls_port = free_port()
            elif attempt:
                time.sleep(0.2)  # same port (restart): give the kernel a moment
            self._write_config()
            try:
                self._spawn_and_wait(timeout)
                return
            except _AddressInUse:
                if attempt == attempts - 1:
                    raise RuntimeError(
                        f"Dovecot could not bind {self.host}:{self.port}: address already in use\n"
                        + _log_tail(self.log_path, self.stderr_path)
                    ) from None

    def stop(self, timeout: float = 15.0) -> None:
        """Send SIGTERM and wait until the master process has exited.

        Waiting matters: the listening port is only released when the process is gone
        (measured about 1 s after SIGTERM), and :meth:`restart` reuses the port.
        """
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        # The master exits at once, but its imap processes go on serving the connections they hold
        # (measured: 10 to 30 s after SIGTERM), so a client would not see the server go away.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._process = None

    def restart(self, timeout: float = 15.0) -> None:
        """Stop and start again on the same port (clients see the connection drop)."""
        self.stop(timeout)
        self.start(timeout)

    def crash_and_restart(self, timeout: float = 15.0) -> None:
        """SIGKILL the master and every process it started, then start again on the same port.

        A plain restart is gentle (measured on 2.3.19): an imap process in the middle of a FETCH
        outlives its master and finishes it, an IDLE session can stay up for many seconds. A crash
        (OOM killer, a reboot) drops every connection at once, mid-transfer.
        """
        process = self._process
        if process is None or process.poll() is not None:
            raise RuntimeError("Dovecot is not running")
        # Stopped first, the master cannot start a process between the listing and the killing
        # (seen once: an imap-login born in between kept the anvil socket, and the start failed).
        os.kill(process.pid, signal.SIGSTOP)
        killed: list[int] = []
        while children := [pid for pid in _descendants(process.pid) if pid not in killed]:
            for pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            killed.extend(children)
        process.kill()
        process.wait(timeout)
        self._process = None
        deadline = time.monotonic() + timeout
        while any(_alive(pid) for pid in killed) and time.monotonic() < deadline:
            time.sleep(0.01)  # a killed process holds its sockets until it is gone
        self.start(timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- users and mail ---------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        """Create (or change the password of) an IMAP user; works while the server runs.

        Measured on Dovecot 2.3.19: passwd-file does notice a changed file without a
        restart (it compares mtime and size), but it looks at the file at most once per
        second of wall-clock time. A user appended to one shared file right after any
        other login in the same second is therefore refused (reproduced: "fail, fail,
        ok after 1 s"). With one file per user (``args = .../users/%u``) each new user
        is a file that Dovecot has never opened, so it is read at the first login: the
        user can log in immediately, even when a failed login for that name came just
        before. Changing an existing user's password still hits the once-a-second rule,
        so that (rare) case waits for the next second. Dovecot keeps one descriptor open
        per user file; its limit here is 20000.

        The password is stored base64 encoded (scheme ``PLAIN.B64``) so any character,
        including ``:``, is safe in the file. IMAP LOGIN through imaplib only accepts
        ASCII passwords.
        """
        if not _USERNAME_RE.match(name) or name in {"cur", "new", "tmp"}:
            raise ValueError(f"unsupported IMAP user name for the test server: {name!r}")
        if not password:
            raise ValueError("password must not be empty")
        self._prepare_directories()
        encoded = base64.b64encode(password.encode("utf-8")).decode("ascii")
        line = f"{name}:{{PLAIN.B64}}{encoded}\n"
        path = self.users_dir / name
        with self._lock:
            previous = self._passwords.get(name)
            if previous == password:
                return
            old_mtime_ns = path.stat().st_mtime_ns if path.exists() else None
            tmp = path.with_name(f".{name}.tmp")
            tmp.write_text(line, encoding="ascii")
            if os.geteuid() == 0:
                os.chown(tmp, 0, self._dovecot_gid())
            os.chmod(tmp, 0o640)
            os.replace(tmp, path)
            self._passwords[name] = password
            if old_mtime_ns is not None:
                # Same size is possible: force a different mtime, then let the
                # "checked this second" mark of Dovecot expire.
                os.utime(path, ns=(old_mtime_ns + 1_000_000_000, old_mtime_ns + 1_000_000_000))
                time.sleep(1.05 - (time.time() % 1.0))

    def client(self, user: str, password: str, timeout: float = 30.0) -> Any:
        """An ``imapclient.IMAPClient`` already logged in as ``user``.

        The caller logs out (``with server.client(u, p) as c:`` does it). Returned type is
        ``imapclient.IMAPClient``; imapclient is imported lazily so this module can be
        imported without it.
        """
        import imapclient

        client = imapclient.IMAPClient(self.host, self.port, ssl=False, timeout=timeout)
        try:
            client.login(user, password)
        except Exception:
            client.shutdown()
            raise
        return client

    def append(
        self,
        user: str,
        password: str,
        folder: str,
        raw: bytes,
        internaldate: datetime | None = None,
        flags: Sequence[bytes | str] = (),
    ) -> int:
        """APPEND one message to ``folder`` of ``user`` and return its new UID.

        The UID comes from the UIDPLUS ``APPENDUID`` response code. ``raw`` is sent
        unchanged, so it should use CRLF line endings (see tests/mails.py). A naive
        ``internaldate`` is taken as local time (imapclient's rule).
        """
        with self.client(user, password) as client:
            response = client.append(folder, raw, flags=tuple(flags), msg_time=internaldate)
        match = _APPENDUID_RE.search(response if isinstance(response, bytes) else str(response).encode())
        if match is None:
            raise RuntimeError(f"APPEND to {folder!r} gave no APPENDUID: {response!r}")
        return int(match.group(2))

    # -- internals --------------------------------------------------------------------

    def _dovecot_gid(self) -> int:
        try:
            return grp.getgrnam("dovecot").gr_gid
        except KeyError:
            raise RuntimeError(
                "the system group 'dovecot' does not exist; reinstall the Debian package "
                "'dovecot-core' (pulled in by 'dovecot-imapd')"
            ) from None

    def _mail_owner(self) -> tuple[str, int, int]:
        """The system user the mail processes run as: ``dovecot`` as root, else ourselves.

        As root the mail user cannot be uid 0 ("userdb returned 0 as uid"); the ``dovecot``
        user needs ``first_valid_uid = 1``.
        """
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam("dovecot")
            except KeyError:
                raise RuntimeError(
                    "the system user 'dovecot' does not exist; reinstall the Debian package "
                    "'dovecot-core' (pulled in by 'dovecot-imapd')"
                ) from None
            return entry.pw_name, entry.pw_uid, entry.pw_gid
        entry = pwd.getpwuid(os.geteuid())
        return entry.pw_name, entry.pw_uid, os.getegid()

    def _prepare_directories(self) -> None:
        if len(str(self.run_dir)) > _MAX_SOCKET_DIR_LENGTH:
            raise RuntimeError(
                f"Dovecot base directory {self.run_dir} is too long for Unix socket paths "
                f"(keep it under {_MAX_SOCKET_DIR_LENGTH} characters, e.g. a shorter --basetemp)"
            )
        _, uid, gid = self._mail_owner()
        for directory in (self.base_dir, self.run_dir, self.state_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.users_dir.mkdir(mode=0o750, exist_ok=True)
        self.mail_dir.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            _grant_traverse(self.base_dir, "dovecot")
            os.chown(self.users_dir, 0, self._dovecot_gid())
            os.chown(self.mail_dir, uid, gid)

    def _write_config(self) -> None:
        owner, uid, gid = self._mail_owner()
        if os.geteuid() == 0:
            privileges = "first_valid_uid = 1\n"
            login_chroot = ""
        else:
            # As a normal user every Dovecot process runs as that user, and chroot (which
            # needs root) is switched off for the services that use it by default.
            privileges = (
                f"first_valid_uid = {uid}\n"
                f"default_internal_user = {owner}\n"
                f"default_internal_group = {grp.getgrgid(gid).gr_name}\n"
                f"default_login_user = {owner}\n"
            )
            login_chroot = "  chroot =\n"
        if self.tls_cert is not None and self.tls_key is not None:
            tls = f"ssl = yes\nssl_cert = <{self.tls_cert}\nssl_key = <{self.tls_key}\n"
        else:
            tls = "ssl = no\n"
        flags = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash", "Junk": "\\Junk"}
        mailboxes = "".join(
            f'  mailbox "{name}" {{\n'
            + (f"    special_use = {flag}\n" if self.special_use else "")
            + "    auto = subscribe\n  }\n"
            for name, flag in zip((self.sent_folder_name, "Drafts", "Trash", "Junk"), flags.values(), strict=True)
        )
        mechanisms, password_mechanisms, oauth2_passdb = "plain login", "", ""
        if self.oauth2_tokeninfo_url is not None:
            oauth2_config = self.base_dir / "dovecot-oauth2.conf.ext"
            oauth2_config.write_text(
                f"tokeninfo_url = {self.oauth2_tokeninfo_url}\nusername_attribute = email\n", encoding="utf-8"
            )
            mechanisms += " xoauth2 oauthbearer"
            # Without this filter XOAUTH2 would also reach passwd-file, which takes the token for a password.
            password_mechanisms = "  mechanisms = plain login\n"
            oauth2_passdb = (
                f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {oauth2_config}\n}}\n"
            )
        # Dovecot hands its processes only the variables it is told to: under a shifted clock
        # (`faketime`, for the suite's sweep of days and hours) its imap processes must live on the
        # same clock as the tests, or a mail appended "now" is dated before the program first met
        # the folder and is left alone.
        shifted = [name for name in sorted(os.environ) if name == "LD_PRELOAD" or name.startswith("FAKETIME")]
        environment = f"import_environment = $import_environment {' '.join(shifted)}\n" if shifted else ""
        config = f"""\
# Generated by tests/servers.py for one test session; not read by any system Dovecot.
{environment}base_dir = {self.run_dir}
state_dir = {self.state_dir}
instance_name = inboxbot-test-{self.port}
log_path = {self.log_path}
listen = {self.host}
protocols = imap
{tls}disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_verbose = yes
# A failed login must not slow down the following tests: without these two settings
# every later login from 127.0.0.1 waited 4-6 s after one failure (anvil's penalty).
# A failed login itself still answers after about 0.5 s (Dovecot's failure queue timer).
auth_failure_delay = 0
{privileges}mail_max_userip_connections = 50
mail_fsync = never
mail_location = maildir:~/Maildir:LAYOUT=fs

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_dir}/%u
{password_mechanisms}}}
{oauth2_passdb}userdb {{
  driver = static
  args = uid={uid} gid={gid} home={self.mail_dir}/%u
}}

service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.tls_port}
  }}
{login_chroot}}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
{login_chroot}}}

namespace inbox {{
  inbox = yes
  separator = {self.separator}
{mailboxes}}}
"""
        self.config_path.write_text(config, encoding="utf-8")

    def _new_log_text(self, offsets: dict[Path, int]) -> str:
        """What Dovecot wrote to its logs since ``offsets`` were taken."""
        text = []
        for path, offset in offsets.items():
            try:
                with open(path, "rb") as log:
                    log.seek(offset)
                    text.append(log.read().decode("utf-8", "replace"))
            except FileNotFoundError:
                pass
        return "".join(text)

    def _spawn_and_wait(self, timeout: float) -> None:
        log_offsets = {path: path.stat().st_size if path.exists() else 0 for path in (self.log_path, self.stderr_path)}
        with open(self.stderr_path, "ab") as stderr:
            self._process = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                cwd=self.base_dir,
                preexec_fn=_set_parent_death_signal,  # noqa: PLW1509  # only calls a preloaded prctl
                process_group=0,  # its own group: stop() can end the imap processes the master leaves
            )
        deadline = time.monotonic() + timeout
        while True:
            returncode = self._process.poll()
            if returncode is not None:
                self._process = None
                logs = _log_tail(self.log_path, self.stderr_path)
                if "Address already in use" in self._new_log_text(log_offsets):
                    raise _AddressInUse()
                raise RuntimeError(
                    f"Dovecot exited with status {returncode} during start-up (config {self.config_path})\n{logs}"
                )
            if self._owns_pid_file() and self._greets():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"Dovecot did not greet on {self.host}:{self.port} within {timeout} s\n"
                    + _log_tail(self.log_path, self.stderr_path)
                )
            time.sleep(0.01)

    def _owns_pid_file(self) -> bool:
        """True once our master wrote run/master.pid, which it does after binding its ports.

        Without this check a foreign server that already held the port (and greets too)
        could pass for ours while our Dovecot is failing with "Address already in use".
        """
        assert self._process is not None
        try:
            return (self.run_dir / "master.pid").read_text().strip() == str(self._process.pid)
        except (FileNotFoundError, ValueError):
            return False

    def _greets(self) -> bool:
        """True once a connection gets the ``* OK`` greeting (imap-login is up)."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                if not sock.recv(256).startswith(b"* OK"):
                    return False
                sock.sendall(b"probe LOGOUT\r\n")  # a clean goodbye keeps the log readable
                return True
        except OSError:
            return False


def _alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie has released everything and does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _descendants(pid: int) -> list[int]:
    """Every live process below `pid`, read from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_line = (entry / "stat").read_text()
        except OSError:
            continue
        state, parent = stat_line.rpartition(")")[2].split()[:2]
        if state != "Z":
            children.setdefault(int(parent), []).append(int(entry.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


class _AddressInUse(Exception):
    """Dovecot could not bind its port: someone took it after we picked it."""


# --------------------------------------------------------------------------------------
# SMTP sink
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the sink accepted (or refused, in :attr:`SmtpSink.refused`)."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage = field(repr=False)

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))


class _SinkHandler:
    """aiosmtpd handler; runs in the Controller's event-loop thread."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.sink._record(envelope)


class _XOAuth2SinkHandler(_SinkHandler):
    """A sink handler that also offers AUTH XOAUTH2, as Gmail and Microsoft 365 do.

    A token is accepted while the sink's ``xoauth2`` check says it is valid for that user. A
    refused one gets Gmail's answer: a 334 challenge holding a base64 JSON error, which the
    client must answer with an empty line, then 535.
    """

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> Any:  # noqa: N802 - aiosmtpd's naming
        from aiosmtpd.smtp import MISSING, AuthResult

        if len(args) > 1:
            try:
                blob: Any = base64.b64decode(args[1], validate=True)
            except ValueError:
                blob = b""
        else:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        fields = dict(part.split("=", 1) for part in blob.decode("utf-8", "replace").split("\x01") if "=" in part)
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        check = self.sink.xoauth2
        assert check is not None
        accepted = check(user, token)
        with self.sink._condition:
            self.sink.xoauth2_attempts.append((user, token, accepted))
        if accepted:
            return AuthResult(success=True, auth_data=user)
        await server.challenge_auth('{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}')
        return AuthResult(success=False, handled=False)


class SmtpSink:
    """An SMTP server on a free loopback port that keeps every message it accepts.

    The real aiosmtpd protocol runs in a thread (aiosmtpd's ``Controller``), so the code
    under test talks genuine SMTP (EHLO, 8BITMIME, SMTPUTF8, pipelining of errors) while
    the test reads :attr:`messages` or blocks in :meth:`wait_for`.

    Fault injection: :meth:`refuse` makes the next DATA commands answer with an error
    code (451 temporary, 550 permanent, ...), :meth:`accept` goes back to normal.
    No authentication is asked for unless ``credentials=(user, password)`` is given; then
    AUTH PLAIN/LOGIN is offered without TLS and required before MAIL. With
    ``smtputf8=False`` the sink does not offer SMTPUTF8 (RFC 6531), as many servers still do not.
    With ``xoauth2=check`` AUTH XOAUTH2 is offered (alone, unless credentials are given too) and
    required: ``check(user, token)`` says whether a token is valid now; every attempt is kept
    in :attr:`xoauth2_attempts` as ``(user, token, accepted)``.
    """

    def __init__(
        self,
        credentials: tuple[str, str] | None = None,
        hostname: str = "sink.example.org",
        xoauth2: Callable[[str, str], bool] | None = None,
        smtputf8: bool = True,
    ) -> None:
        self.host = LOOPBACK
        self.smtputf8 = smtputf8
        self.port: int = 0
        self.credentials = credentials
        self.xoauth2 = xoauth2
        self.xoauth2_attempts: list[tuple[str, str, bool]] = []
        self.server_hostname = hostname
        self._controller: Any = None
        self._condition = threading.Condition()
        self._messages: list[ReceivedMessage] = []
        self._refused: list[ReceivedMessage] = []
        self._refuse_code: int | None = None
        self._refuse_remaining: int | None = None

    # -- life cycle ------------------------------------------------------------------

    def start(self, port: int | None = None) -> None:
        """Start listening (retrying with another port if the chosen one got taken).

        With `port`, listen there and nowhere else: a restart on the port a client already knows.
        """
        try:
            from aiosmtpd.controller import Controller
        except ImportError:
            raise RuntimeError("the Python package 'aiosmtpd' is not installed: pip install aiosmtpd") from None
        if self._controller is not None:
            raise RuntimeError("SmtpSink is already running")
        kwargs: dict[str, Any] = {"enable_SMTPUTF8": self.smtputf8}
        if self.credentials is not None:
            kwargs.update(auth_required=True, auth_require_tls=False, authenticator=self._authenticate)
        handler: _SinkHandler = _SinkHandler(self)
        if self.xoauth2 is not None:
            handler = _XOAuth2SinkHandler(self)
            kwargs.update(auth_required=True, auth_require_tls=False)
            if self.credentials is None:
                kwargs.update(auth_exclude_mechanism=["PLAIN", "LOGIN"])
        last_error: Exception | None = None
        for _ in range(3 if port is None else 1):
            chosen = free_port() if port is None else port
            controller = Controller(
                handler,
                hostname=self.host,
                port=chosen,
                server_hostname=self.server_hostname,
                ready_timeout=10.0,
                **kwargs,
            )
            try:
                controller.start()
            except OSError as error:  # port taken between free_port() and bind
                last_error = error
                continue
            self._controller = controller
            self.port = chosen
            return
        raise RuntimeError(f"SmtpSink could not listen on {self.host}: {last_error}")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what the test sees ----------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A snapshot (copy) of the accepted messages, oldest first."""
        with self._condition:
            return list(self._messages)

    @property
    def refused(self) -> list[ReceivedMessage]:
        """A snapshot of the messages whose DATA was answered by :meth:`refuse`'s code."""
        with self._condition:
            return list(self._refused)

    def clear(self) -> None:
        """Forget the messages received so far (accepted and refused)."""
        with self._condition:
            self._messages.clear()
            self._refused.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Block until at least ``count`` messages were accepted; return them all.

        On timeout raise AssertionError listing what did arrive, so a failing test says
        how far the code under test got.
        """
        with self._condition:
            if not self._condition.wait_for(lambda: len(self._messages) >= count, timeout):
                received = "\n".join(f"  {m.mail_from} -> {m.rcpt_tos}: {m.subject!r}" for m in self._messages)
                raise AssertionError(
                    f"SmtpSink: expected at least {count} message(s) within {timeout} s, "
                    f"got {len(self._messages)} (and {len(self._refused)} refused)"
                    + (f":\n{received}" if received else "")
                )
            return list(self._messages)

    def refuse(self, code: int, times: int | None = None) -> None:
        """Answer the next ``times`` DATA commands (all if None) with ``code``.

        4xx codes are temporary failures (the sender should retry later), 5xx permanent.
        """
        if not 400 <= code <= 599:
            raise ValueError(f"refusal code must be 4xx or 5xx, not {code}")
        if times is not None and times < 0:
            raise ValueError("times must be >= 0 or None")
        with self._condition:
            self._refuse_code = code
            self._refuse_remaining = times

    def accept(self) -> None:
        """Stop refusing: accept every following message."""
        with self._condition:
            self._refuse_code = None
            self._refuse_remaining = None

    # -- called from the SMTP thread -------------------------------------------------

    def _record(self, envelope: Any) -> str:
        data = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode("utf-8")
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        received = ReceivedMessage(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            data=data,
            message=parsed,  # type: ignore[arg-type]  # policy.default builds EmailMessage
        )
        with self._condition:
            code = self._refuse_code
            if code is not None and self._refuse_remaining != 0:
                if self._refuse_remaining is not None:
                    self._refuse_remaining -= 1
                self._refused.append(received)
                self._condition.notify_all()
                enhanced = "4.3.0" if code < 500 else "5.7.1"
                return f"{code} {enhanced} Refused by the test SMTP sink (fault injection)"
            self._messages.append(received)
            self._condition.notify_all()
        return "250 2.0.0 OK: queued by the test SMTP sink"

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        assert self.credentials is not None
        if isinstance(auth_data, LoginPassword):
            user, password = self.credentials
            if auth_data.login == user.encode() and auth_data.password == password.encode():
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


# --------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------

_DBNAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _find_postgres_bin() -> Path:
    """Directory with initdb/pg_ctl: the newest /usr/lib/postgresql/<version>/bin, else PATH."""

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.name
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    candidates = sorted(
        (p for p in glob.glob("/usr/lib/postgresql/*/bin") if os.access(os.path.join(p, "initdb"), os.X_OK)),
        key=version,
    )
    if candidates:
        return Path(candidates[-1])
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    raise _missing_program("initdb", "postgresql", "/usr/lib/postgresql/*/bin and PATH")


class PostgresServer:
    """A throw-away PostgreSQL cluster on a free loopback port, all files in ``base_dir``.

    ``initdb`` refuses to run as root, so as root every server command runs as the
    ``postgres`` system user (``runuser -u postgres``) and the cluster directory belongs
    to that user. Trust authentication on 127.0.0.1, ``fsync=off``: the data is disposable
    and durability would only slow the tests down. Start (initdb + start) takes about 1 s.
    """

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.host = LOOPBACK
        self.port: int = 0
        self.bin_dir = _find_postgres_bin()
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "socket"
        self.log_path = self.base_dir / "server.log"
        self._started = False
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            raise _missing_program("runuser", "util-linux", "PATH")

    def _run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program (as the postgres user when we are root)."""
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command,
            check=False,  # the error below carries the output and the log
            cwd=self.base_dir,  # must be readable by postgres, unlike e.g. /root
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed with status {result.returncode}\n"
                f"{result.stdout}{result.stderr}\n" + _log_tail(self.log_path)
            )
        return result

    def start(self) -> None:
        """Create the cluster on the first call (initdb), then start it and wait until ready."""
        if self._started:
            raise RuntimeError("PostgreSQL is already running")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            try:
                postgres = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "the system user 'postgres' does not exist; install the Debian package 'postgresql'"
                ) from None
            _grant_traverse(self.base_dir, "postgres")
            os.chown(self.base_dir, postgres.pw_uid, postgres.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust",
                "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
            )  # fmt: skip
        self.socket_dir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            os.chown(self.socket_dir, postgres.pw_uid, postgres.pw_gid)
        keep_port = self.port != 0
        for attempt in range(3):
            if not keep_port:
                self.port = free_port()
            options = (
                f"-p {self.port} -k {self.socket_dir} -c listen_addresses={self.host} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            log_size = self.log_path.stat().st_size if self.log_path.exists() else 0
            try:
                self._run(
                    "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path),
                    "-w", "-t", "60", "-o", options, "start",
                )  # fmt: skip
            except RuntimeError:
                with open(self.log_path, "rb") as log:
                    log.seek(log_size)
                    port_taken = b"already in use" in log.read()
                if keep_port or not port_taken or attempt == 2:
                    raise
                continue  # someone took the port after free_port(): try another one
            self._started = True
            return

    def stop(self) -> None:
        """Fast shutdown (disconnects clients), waiting until the server is gone."""
        if not self._started:
            return
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop")
        self._started = False

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) for a database of this cluster."""
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{dbname}"

    def _admin_execute(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(statement)  # type: ignore[arg-type]  # names are validated

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        if not _DBNAME_RE.match(name):
            raise ValueError(f"database name must be a plain identifier: {name!r}")
        self._admin_execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database even if the code under test still holds connections to it."""
        if not _DBNAME_RE.match(name):
            raise ValueError(f"database name must be a plain identifier: {name!r}")
        self._admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


__all__ = [
    "DovecotServer",
    "PostgresServer",
    "ReceivedMessage",
    "SmtpSink",
    "free_port",
]
