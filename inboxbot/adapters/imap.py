"""The IMAP side: which folders to watch, and what is new in them.

The mailbox is the director's own. Folders are opened with EXAMINE (read-only) and bodies fetched
with BODY.PEEK[], so the server itself guarantees that nothing is marked read, moved or deleted.
Progress is a UID per folder, so a poll asks only for UIDs above the last one seen and costs the
same on 50,000 old mails as on none.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import SEEN
from imapclient.imapclient import SENT as SENT_FLAG

from inboxbot.adapters.oauth import OAuthError, TokenSource
from inboxbot.adapters.tls import tls_context, tls_failure
from inboxbot.config import ImapSettings
from inboxbot.domain.vocabulary import FolderRole

log = logging.getLogger(__name__)

INBOX = FolderRole.INBOX
SENT = FolderRole.SENT


class MailboxError(Exception):
    """A problem with the IMAP account, phrased for the person who set it up."""


@dataclass(frozen=True)
class WatchedFolder:
    name: str
    role: FolderRole


@dataclass(frozen=True)
class FolderStatus:
    uidvalidity: int
    uidnext: int


@dataclass(frozen=True)
class FoundMail:
    """A mail found by a search in a folder: where it is, when the server received it, its headers."""

    folder: str
    uidvalidity: int
    uid: int
    internaldate: datetime
    headers: bytes  # From, Subject, Date and Message-ID, as the server has them


FOUND_PER_FOLDER = 20
"""Mails read back per folder from one search: enough for one author's mails of a day."""
_MAX_SEARCHED_ID = 250
"""A Message-ID longer than any real one is not searched for: it is a stranger's padding."""


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
        self._examined: FolderStatus | None = None  # the selected folder's status when it was opened

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
            # imapclient sets imaplib's debug level to 5, and imaplib then formats the repr of
            # every response, whole fetched mails included, into a message nobody logs: a large
            # attachment's size again in memory, and its CPU, for nothing.
            client._imap.debug = 0
        except ssl.SSLError as exc:
            raise MailboxError(f"{where}: TLS failed: {tls_failure(exc)}") from exc
        except (TimeoutError, OSError) as exc:
            raise MailboxError(f"{where}: cannot connect: {exc}") from exc
        try:
            if s.security == "starttls":
                if b"STARTTLS" not in client.capabilities():
                    # Never fall back to plain text: the password would cross the network readable.
                    raise MailboxError(
                        f'{where}: the server does not offer STARTTLS (imap.security = "starttls"); '
                        'not logging in without TLS: try security = "tls" on port 993'
                    )
                client.starttls(context)
            self._login(client)
        except MailboxError:
            _close_quietly(client)
            raise
        except LoginError as exc:
            _close_quietly(client)
            raise MailboxError(f"{where}: login refused for {s.username}: {_text(exc)}") from exc
        except OAuthError as exc:
            _close_quietly(client)
            raise MailboxError(f"{where}: {exc}") from exc
        except ssl.SSLError as exc:
            _close_quietly(client)
            raise MailboxError(f"{where}: TLS failed: {tls_failure(exc)}") from exc
        except (IMAPClientError, OSError) as exc:
            _close_quietly(client)
            raise MailboxError(f"{where}: {_text(exc)}") from exc
        # INTERNALDATE must come back with its offset, not converted to this machine's local time.
        client.normalise_times = False
        self._client = client
        self._selected, self._examined = None, None

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
            self._selected, self._examined = None, None

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
        """The inbox, and the Sent folder (configured, or found by its SPECIAL-USE flag or its name)."""
        listing = self.client.list_folders()
        names = [name for _flags, _delim, name in listing]
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
            sent = find_sent(listing)
            if sent is None:
                log.warning(
                    "no Sent folder found (none flagged \\Sent, none with a usual name): the director's replies "
                    "are not read; set imap.sent_folder (the account has: %s)",
                    _list(names),
                )
        if sent is not None and sent != inbox:
            folders.append(WatchedFolder(sent, SENT))
        return folders

    def sent_folder(self) -> str | None:
        """Where the director's mail client files what she sends: where our own copies go too."""
        if self.settings.sent_folder is not None:
            return self.settings.sent_folder
        return find_sent(self.client.list_folders())

    def append_seen(self, folder: str, raw: bytes, when: datetime) -> None:
        """Store `raw` unchanged in `folder`, already read, dated `when` (its INTERNALDATE)."""
        self.client.append(folder, raw, flags=(SEEN,), msg_time=when)

    def holds_message_id(self, folder: str, message_id: str) -> bool:
        self.client.select_folder(folder, readonly=True)
        self._selected, self._examined = folder, None
        return bool(self.client.search(_message_id_criteria(message_id)))

    def find_mails(
        self,
        folders: Sequence[str],
        *,
        message_id: str | None = None,
        sender: str | None = None,
        sent_on: date | None = None,
    ) -> list[FoundMail]:
        """Mails with this Message-ID, or from `sender` with a Date header around `sent_on`, in `folders`.

        One SEARCH per folder, done by the server, and at most `FOUND_PER_FOLDER` mails read back
        (their headers only): bounded whatever the mailbox holds. The folder open before is opened
        again afterwards, so a fetch under way on this connection goes on where it was.
        """
        if message_id is not None:
            if not _searchable(message_id) or len(message_id) > _MAX_SEARCHED_ID:
                return []
            criteria: list[Any] = _message_id_criteria(message_id)
        elif sender is not None and sent_on is not None:
            if not _searchable(sender.encode("ascii", "replace").decode()) or len(sender) > 320:
                return []  # a quote, a backslash or a control character: no address of anyone
            # SENTSINCE/SENTBEFORE compare the Date header's day: a day either side covers time zones.
            criteria = [
                "FROM",
                sender,
                "SENTSINCE",
                sent_on - timedelta(days=1),
                "SENTBEFORE",
                sent_on + timedelta(days=2),
            ]
        else:
            return []
        charset = None if all(_searchable(str(c)) for c in criteria) else "UTF-8"
        found: list[FoundMail] = []
        with self._visiting():
            for folder in folders:
                info = self.client.select_folder(folder, readonly=True)
                uidvalidity = int(info[b"UIDVALIDITY"])
                uids = sorted(self.client.search(criteria, charset=charset))[:FOUND_PER_FOLDER]
                if not uids:
                    continue
                wanted = "BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE MESSAGE-ID)]"
                for uid, data in sorted(self.client.fetch(uids, ["INTERNALDATE", wanted]).items()):
                    headers = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"")
                    found.append(
                        FoundMail(folder, uidvalidity, uid, _aware(data[b"INTERNALDATE"]), bytes(headers or b""))
                    )
        return found

    def fetch_found(self, found: FoundMail) -> FetchedMail | None:
        """The whole mail `found` names (without setting \\Seen), or None if it is gone."""
        with self._visiting():
            info = self.client.select_folder(found.folder, readonly=True)
            if int(info[b"UIDVALIDITY"]) != found.uidvalidity:
                return None
            data = self.client.fetch([found.uid], ["BODY.PEEK[]", "INTERNALDATE"]).get(found.uid)
        if data is None or data.get(b"BODY[]") is None:
            return None
        return FetchedMail(
            found.folder, found.uidvalidity, found.uid, _aware(data[b"INTERNALDATE"]), bytes(data[b"BODY[]"])
        )

    @contextmanager
    def _visiting(self) -> Iterator[None]:
        """Open other folders, then the one open before again (read-only, as `examine` left it)."""
        selected, examined = self._selected, self._examined
        self._selected, self._examined = None, None
        try:
            yield
        finally:
            if selected is not None:
                self.client.select_folder(selected, readonly=True)
            self._selected, self._examined = selected, examined

    def examine(self, folder: str) -> FolderStatus:
        """Open `folder` read-only and return its UIDVALIDITY and UIDNEXT as it was opened.

        On a connection that already has `folder` open nothing is sent: the next command (the UID
        SEARCH for new mail) is where the server reports what came. Opening a folder costs the server
        more the bigger it is (and STATUS as much), which a kept connection pays once.
        """
        if self._selected == folder and self._examined is not None:
            return self._examined
        info = self.client.select_folder(folder, readonly=True)
        self._selected = folder
        uidvalidity = int(info[b"UIDVALIDITY"])
        uidnext = info.get(b"UIDNEXT")
        if uidnext is None:
            uids = self.client.search(["ALL"])
            uidnext = (max(uids) + 1) if uids else 1
        self._examined = FolderStatus(uidvalidity=uidvalidity, uidnext=int(uidnext))
        return self._examined

    def alive(self) -> bool:
        """Whether the connection still answers (servers log out idle clients after 30 minutes)."""
        if self._client is None:
            return False
        try:
            self._client.noop()
        except (IMAPClientError, OSError):
            return False
        return True

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

    def idle_wait(
        self, timeout: float, should_stop: Callable[[], bool], on_idle: Callable[[], None] | None = None
    ) -> bool:
        """Wait in IDLE on the selected folder until it changes, `timeout` passes or we must stop.

        Checks `should_stop` every second, so a SIGTERM is obeyed at once rather than after the
        server's next notification; returns whether new mail was announced. `on_idle` is called
        once the server is idling: from then on, no arrival goes unannounced.
        """
        client = self.client
        deadline = time.monotonic() + timeout
        client.idle()
        announced = False
        try:
            if on_idle is not None:
                on_idle()
            while not announced and not should_stop() and time.monotonic() < deadline:
                responses = client.idle_check(timeout=1)
                announced = _announces_mail(responses)
                if not responses and _closed_by_peer(client.socket()):
                    raise MailboxError(f"IMAP {self.settings.host}:{self.settings.port}: connection closed during IDLE")
        except MailboxError:
            self.close()
            raise
        except BaseException:
            if self._client is not None:
                client.idle_done()
            raise
        # What the server announced between the last check and DONE comes with DONE's answer.
        _text, late = client.idle_done()
        return announced or _announces_mail(late)


def _message_id_criteria(message_id: str) -> list[Any]:
    return ["HEADER", "Message-ID", f"<{message_id}>"]


def _searchable(value: str) -> bool:
    """Whether `value` can go into a SEARCH as it is: printable ASCII, no quote or backslash to escape."""
    return value.isascii() and value.isprintable() and not any(c in value for c in '"\\')


def _announces_mail(responses: Sequence[object]) -> bool:
    return any(isinstance(r, tuple) and len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether the server has closed the connection.

    imapclient's idle_check() takes the end of the connection for "no news" (mjs/imapclient#565):
    once the server is gone it returns [] at once, every time, so IDLE would spin on a dead
    connection until its 25 minutes are up and mail would wait for the next poll. Peeking at the
    socket tells the two apart; on a duplicate of it, since TLS sockets refuse MSG_PEEK.
    """
    try:
        with socket.socket(fileno=os.dup(sock.fileno())) as raw:
            return raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False  # nothing to read: still there
    except OSError:
        return True  # reset, or already closed


# The Sent folder's usual names, for servers without SPECIAL-USE (RFC 6154): Thunderbird, Outlook,
# Apple Mail and the French webmails (Orange, Free, OVH/Roundcube, Exchange in French), compared
# on the last level of the name, without case. Gmail and Microsoft 365 both flag theirs \\Sent.
SENT_NAMES = (
    "sent",
    "envoyés",
    "éléments envoyés",
    "messages envoyés",
    "sent items",
    "sent messages",
    "sent mail",
    "courrier envoyé",
    "envoyes",
    "elements envoyes",
    "messages envoyes",
)
# Never our Sent folder, whatever the name: flagged for another use, or not a folder that holds mail.
_OTHER_USES = {b"\\noselect", b"\\nonexistent", b"\\drafts", b"\\trash", b"\\junk", b"\\all", b"\\flagged"}

ListedFolder = tuple[Sequence[bytes], bytes | None, str]


def find_sent(listing: Sequence[ListedFolder]) -> str | None:
    """The folder flagged \\Sent; else the one with the most usual Sent name; else None.

    Names come decoded from modified UTF-7 (imapclient does it), so "Éléments envoyés" is compared
    as written. A folder flagged for another use (Drafts, Trash...) is never taken for Sent.
    """
    for flags, _delimiter, name in listing:
        if any(flag.lower() == SENT_FLAG.lower() for flag in flags):
            return name
    best: tuple[int, int, str] | None = None
    for flags, delimiter, name in listing:
        if {flag.lower() for flag in flags} & _OTHER_USES:
            continue
        levels = name.split(delimiter.decode()) if delimiter else [name]
        if len(levels) > 1 and levels[0].upper() == "INBOX":
            levels = levels[1:]  # Courier and cPanel servers keep every folder under INBOX (INBOX.Sent)
        leaf = unicodedata.normalize("NFC", levels[-1]).casefold()
        if leaf in SENT_NAMES:
            # A top-level folder before a nested one ("Archives/Sent" is someone's filing).
            key = (len(levels), SENT_NAMES.index(leaf), name)
            if best is None or key < best:
                best = key
    return best[2] if best else None


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
