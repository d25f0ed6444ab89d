"""The IMAP side: which folders to watch, and what is new in them.

The mailbox is the director's own. Folders are opened with EXAMINE (read-only) and bodies fetched
with BODY.PEEK[], so the server itself guarantees that nothing is marked read, moved or deleted.
Progress is a UID per folder, so a poll asks only for UIDs above the last one seen and costs the
same on 50,000 old mails as on none.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import SENT as SENT_FLAG

from inboxbot.config import ImapSettings, tls_context
from inboxbot.oauth import OAuthError, TokenSource

log = logging.getLogger(__name__)

INBOX = "inbox"
SENT = "sent"


class MailboxError(Exception):
    """A problem with the IMAP account, phrased for the person who set it up."""


@dataclass(frozen=True)
class WatchedFolder:
    name: str
    role: str  # INBOX or SENT


@dataclass(frozen=True)
class FolderStatus:
    uidvalidity: int
    uidnext: int


@dataclass(frozen=True)
class FetchedMail:
    folder: str
    uidvalidity: int
    uid: int
    internaldate: datetime  # when the server received it: the case's reception date
    raw: bytes


class Mailbox:
    def __init__(self, settings: ImapSettings, tokens: TokenSource | None = None) -> None:
        self.settings = settings
        if tokens is None and settings.oauth2 is not None:
            tokens = TokenSource(settings.oauth2)
        self.tokens = tokens
        self._client: imapclient.IMAPClient | None = None
        self._selected: str | None = None

    # -- connection ------------------------------------------------------------------------

    def connect(self) -> None:
        s = self.settings
        where = f"IMAP {s.host}:{s.port}"
        # Building a TLS context costs tens of milliseconds per cycle: only when TLS is used.
        context = tls_context(s.ca_file) if s.security != "plain" else None
        try:
            client = imapclient.IMAPClient(
                s.host, port=s.port, ssl=s.security == "tls", ssl_context=context, timeout=s.timeout
            )
        except ssl.SSLError as exc:
            raise MailboxError(f"{where}: TLS failed: {exc.reason or exc}") from exc
        except (TimeoutError, OSError) as exc:
            raise MailboxError(f"{where}: cannot connect: {exc}") from exc
        try:
            if s.security == "starttls":
                client.starttls(context)
            self._login(client)
        except LoginError as exc:
            _close_quietly(client)
            raise MailboxError(f"{where}: login refused for {s.username}: {_text(exc)}") from exc
        except OAuthError as exc:
            _close_quietly(client)
            raise MailboxError(f"{where}: {exc}") from exc
        except ssl.SSLError as exc:
            _close_quietly(client)
            raise MailboxError(f"{where}: TLS failed: {exc.reason or exc}") from exc
        except (IMAPClientError, OSError) as exc:
            _close_quietly(client)
            raise MailboxError(f"{where}: {_text(exc)}") from exc
        # INTERNALDATE must come back with its offset, not converted to this machine's local time.
        client.normalise_times = False
        self._client = client
        self._selected = None

    def _login(self, client: imapclient.IMAPClient) -> None:
        s = self.settings
        if self.tokens is None:
            client.login(s.username, s.password)
            return
        token = self.tokens.access_token()
        try:
            client.oauth2_login(s.username, token)
        except LoginError as exc:
            # Refused before its expiry (revoked, or the two clocks apart): one fresh token, one retry.
            log.info("IMAP refused the OAuth2 access token (%s); refreshing it and trying again", _text(exc))
            client.oauth2_login(s.username, self.tokens.refreshed_after_rejection(token))

    def close(self) -> None:
        if self._client is not None:
            _close_quietly(self._client)
            self._client = None
            self._selected = None

    def __enter__(self) -> Mailbox:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def client(self) -> imapclient.IMAPClient:
        if self._client is None:
            raise MailboxError("not connected")
        return self._client

    # -- folders ---------------------------------------------------------------------------

    def folder_names(self) -> list[str]:
        return [name for _flags, _delim, name in self.client.list_folders()]

    def watched_folders(self) -> list[WatchedFolder]:
        """The inbox, and the Sent folder (configured, or found by its SPECIAL-USE flag)."""
        names = self.folder_names()
        inbox = self.settings.inbox_folder
        if inbox not in names and not (inbox.upper() == "INBOX" and any(n.upper() == "INBOX" for n in names)):
            raise MailboxError(f"imap.inbox_folder: no folder named {inbox!r} (the account has: {_list(names)})")
        folders = [WatchedFolder(inbox, INBOX)]
        if not self.settings.watch_sent:
            return folders
        sent = self.settings.sent_folder
        if sent is not None:
            if sent not in names:
                raise MailboxError(f"imap.sent_folder: no folder named {sent!r} (the account has: {_list(names)})")
        else:
            sent = self.client.find_special_folder(SENT_FLAG)
        if sent is not None and sent != inbox:
            folders.append(WatchedFolder(sent, SENT))
        return folders

    def examine(self, folder: str) -> FolderStatus:
        """Open `folder` read-only and return its UIDVALIDITY and UIDNEXT."""
        info = self.client.select_folder(folder, readonly=True)
        self._selected = folder
        uidvalidity = int(info[b"UIDVALIDITY"])
        uidnext = info.get(b"UIDNEXT")
        if uidnext is None:
            uids = self.client.search(["ALL"])
            uidnext = (max(uids) + 1) if uids else 1
        return FolderStatus(uidvalidity=uidvalidity, uidnext=int(uidnext))

    # -- messages --------------------------------------------------------------------------

    def uids_above(self, last_uid: int) -> list[int]:
        # "UID n:*" always matches the newest mail, even below n: filter what comes back.
        return sorted(uid for uid in self.client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)

    def uids_since(self, day: date) -> list[int]:
        return sorted(self.client.search(["SINCE", day]))

    def internaldates(self, uids: Sequence[int]) -> dict[int, datetime]:
        result: dict[int, datetime] = {}
        for batch in _batches(uids, 1000):
            for uid, data in self.client.fetch(list(batch), ["INTERNALDATE"]).items():
                result[uid] = _aware(data[b"INTERNALDATE"])
        return result

    def fetch(self, folder: str, uidvalidity: int, uids: Sequence[int]) -> Iterator[FetchedMail]:
        """The mails with these UIDs, oldest first, fetched in batches without setting \\Seen."""
        for batch in _batches(uids, self.settings.fetch_batch):
            response = self.client.fetch(list(batch), ["BODY.PEEK[]", "INTERNALDATE"])
            for uid in batch:
                data = response.get(uid)
                if data is None:
                    continue  # expunged between SEARCH and FETCH
                raw = data.get(b"BODY[]")
                if raw is None:
                    continue
                yield FetchedMail(
                    folder=folder,
                    uidvalidity=uidvalidity,
                    uid=uid,
                    internaldate=_aware(data[b"INTERNALDATE"]),
                    raw=bytes(raw),
                )

    def has_idle(self) -> bool:
        return b"IDLE" in self.client.capabilities()

    def idle_wait(self, timeout: float, should_stop: Callable[[], bool]) -> bool:
        """Wait in IDLE on the selected folder until it changes, `timeout` passes or we must stop.

        Checks `should_stop` every second, so a SIGTERM is obeyed at once rather than after the
        server's next notification; returns whether new mail was announced.
        """
        client = self.client
        deadline = time.monotonic() + timeout
        client.idle()
        try:
            while not should_stop() and time.monotonic() < deadline:
                responses = client.idle_check(timeout=1)
                if any(isinstance(r, tuple) and len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    return True
            return False
        finally:
            client.idle_done()


def _batches(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _close_quietly(client: imapclient.IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - closing a connection that may already be dead
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass


def _text(exc: BaseException) -> str:
    message = str(exc)
    if message.startswith("b'") or message.startswith('b"'):
        message = message[2:-1]
    return message


def _list(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names[:20]) + (" …" if len(names) > 20 else "")
