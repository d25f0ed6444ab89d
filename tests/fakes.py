"""In-memory stand-ins for the mailbox and the SMTP sender, behind the same methods as the real ones.

They let the pipeline's behaviour (dedupe, threading, commands, acknowledgements) be tested in
milliseconds, with no server; the end-to-end tests against Dovecot, the aiosmtpd sink and
PostgreSQL keep proving that the real adapters behave as these do. Only what the pipeline calls is
here: a mailbox with an inbox and a Sent folder whose UIDs only grow, and a sender that accepts
every mail unless told to refuse an address.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType

from inboxbot.adapters.imap import INBOX, SENT, FetchedMail, FolderStatus, WatchedFolder
from inboxbot.domain.cases import OutgoingMail
from inboxbot.outgoing.outbox import SendResult


@dataclass
class _Folder:
    uidvalidity: int = 1
    mails: dict[int, tuple[datetime, bytes]] = field(default_factory=dict)
    next_uid: int = 1


class InMemoryMailbox:
    """An IMAP account's INBOX and Sent, as the pipeline reads them (read-only, by UID)."""

    def __init__(self, clock: Callable[[], datetime], sent: str | None = "Sent") -> None:
        self.clock = clock
        self.folders: dict[str, _Folder] = {"INBOX": _Folder()}
        self.sent = sent
        if sent is not None:
            self.folders[sent] = _Folder()
        self._selected = "INBOX"

    def deliver(self, raw: bytes, folder: str = "INBOX", when: datetime | None = None) -> int:
        """What the director's server does when a mail arrives (or her client files a sent one)."""
        box = self.folders[folder]
        uid = box.next_uid
        box.mails[uid] = (when or self.clock(), raw)
        box.next_uid += 1
        return uid

    # -- the methods the pipeline calls, as adapters.imap.Mailbox has them --------------------

    def __enter__(self) -> InMemoryMailbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def watched_folders(self) -> list[WatchedFolder]:
        folders = [WatchedFolder("INBOX", INBOX)]
        if self.sent is not None:
            folders.append(WatchedFolder(self.sent, SENT))
        return folders

    def sent_folder(self) -> str | None:
        return self.sent

    def examine(self, folder: str) -> FolderStatus:
        self._selected = folder
        box = self.folders[folder]
        return FolderStatus(uidvalidity=box.uidvalidity, uidnext=box.next_uid)

    def uids_above(self, last_uid: int) -> list[int]:
        return sorted(uid for uid in self.folders[self._selected].mails if uid > last_uid)

    def uids_since(self, day: date) -> list[int]:
        box = self.folders[self._selected]
        return sorted(uid for uid, (when, _raw) in box.mails.items() if when.date() >= day)

    def internaldates(self, uids: Sequence[int]) -> dict[int, datetime]:
        box = self.folders[self._selected]
        return {uid: box.mails[uid][0] for uid in uids if uid in box.mails}

    def fetch(self, folder: str, uidvalidity: int, uids: Sequence[int]) -> Iterator[FetchedMail]:
        box = self.folders[folder]
        for uid in uids:
            if uid in box.mails:
                when, raw = box.mails[uid]
                yield FetchedMail(folder=folder, uidvalidity=uidvalidity, uid=uid, internaldate=when, raw=raw)

    def append_seen(self, folder: str, raw: bytes, when: datetime) -> None:
        self.deliver(raw, folder, when)

    def holds_message_id(self, folder: str, message_id: str) -> bool:
        return any(f"<{message_id}>".encode() in raw for _when, raw in self.folders[folder].mails.values())


@dataclass
class Sent:
    """One mail the fake SMTP server accepted."""

    recipient: str
    sender: str
    raw: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        body = self.message.get_body(("plain",))
        return body.get_content() if body is not None else ""


class RecordingSender:
    """An SMTP server that accepts every mail, except to the addresses in `refuse` (a 550)."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.refuse: set[str] = set()

    def send(self, mails: Sequence[OutgoingMail], on_result: Callable[[SendResult], None]) -> None:
        for mail in mails:
            if mail.recipient in self.refuse:
                on_result(SendResult(mail.id, False, True, "550 no such user"))
                continue
            self.sent.append(Sent(mail.recipient, mail.sender, mail.raw))
            on_result(SendResult(mail.id, True, False, ""))

    def to(self, recipient: str) -> list[Sent]:
        return [mail for mail in self.sent if mail.recipient == recipient]
