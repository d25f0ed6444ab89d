"""A watched folder read: where inboxbot stands in it, what is new, and its mails in groups.

The folder's progress is committed with the mails it covers, so a crash loses at most one group's
uncommitted work, read again next time; a folder met for the first time is read from a cutoff, and
a UIDVALIDITY change reads it again with the known mails skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from inboxbot.adapters.imap import FetchedMail, Mailbox, WatchedFolder
from inboxbot.bootstrap import App
from inboxbot.domain.vocabulary import FolderRole, MailOutcome
from inboxbot.procedure.bookkeeping import CycleReport
from inboxbot.store.repository import FolderState, tied_to_its_data

if TYPE_CHECKING:  # the reading stack is imported with the first mail, not by an idle cycle
    from inboxbot.procedure.onemail import OneMail

log = logging.getLogger(__name__)

# Mails committed together: enough to make the commit and the archive sync cheap per mail, few
# enough that the first acknowledgements of a storm leave within a second or so.
GROUP_MAILS = 50
GROUP_BYTES = 32 << 20


class MailFailed(Exception):
    """A mail processed without a savepoint failed inside inboxbot: its group must be done again."""

    def __init__(self, folder: str, uid: int) -> None:
        super().__init__(f"mail UID {uid} in {folder} failed")
        self.folder = folder
        self.uid = uid


class FolderSync:
    def __init__(
        self,
        app: App,
        one_mail: Callable[[], OneMail],
        on_mail: Callable[[FetchedMail, MailOutcome], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.app = app
        self.one_mail = one_mail
        self.on_mail = on_mail
        self.should_stop = should_stop
        self.progress = progress

    def poll(self, mailbox: Mailbox, report: CycleReport, mailbox_for: Callable[[str], Mailbox] | None = None) -> None:
        """Read every watched folder; through `mailbox_for(folder)` when each has a connection of its own."""
        for folder in mailbox.watched_folders():
            if self.should_stop():
                return
            self.sync_folder(mailbox_for(folder.name) if mailbox_for else mailbox, folder, report)

    def sync_folder(self, mailbox: Mailbox, folder: WatchedFolder, report: CycleReport) -> None:
        now = self.app.clock()
        status = mailbox.examine(folder.name)
        with self.app.store.unit() as unit:
            state = unit.folder(folder.name)
            if state is None:
                state = self._first_meeting(mailbox, folder.name, status.uidvalidity, status.uidnext, now)
            elif state.uidvalidity != status.uidvalidity:
                log.warning(
                    "folder %s: UIDVALIDITY changed from %s to %s; reading it again, known mails are skipped",
                    folder.name,
                    state.uidvalidity,
                    status.uidvalidity,
                )
                state = replace(state, uidvalidity=status.uidvalidity, baseline_uid=status.uidnext - 1, last_uid=0)
            state = replace(state, last_poll_at=now)
            unit.save_folder(state)

        found = mailbox.uids_above(state.last_uid)
        if not found:
            return
        uids = found
        old = [uid for uid in uids if uid <= state.baseline_uid]
        if old:
            # Mail that was there before inboxbot met the folder (or before a UIDVALIDITY change):
            # only what arrived after the cutoff, and never what the retention period has purged.
            retention = now - timedelta(days=366 * self.app.settings.storage.retention_years)
            cutoff = max(state.cutoff or retention, retention)
            dates = mailbox.internaldates(old)
            skipped = {uid for uid in old if dates.get(uid, cutoff) < cutoff}
            uids = [uid for uid in uids if uid not in skipped]
        with self.one_mail().reading_from(mailbox):
            self._read_new(mailbox, folder, state, found, uids, report)

    def _read_new(
        self,
        mailbox: Mailbox,
        folder: WatchedFolder,
        state: FolderState,
        found: Sequence[int],
        uids: Sequence[int],
        report: CycleReport,
    ) -> None:
        done = 0
        for group in _groups(mailbox.fetch(folder.name, state.uidvalidity, uids)):
            processed = self._process_group(group, folder.role, report)
            for fetched, outcome in processed:
                done += 1
                report.fetched += 1
                report.outcomes[outcome] += 1
                if self.on_mail is not None:
                    self.on_mail(fetched, outcome)
                if self.progress is not None:
                    self.progress(folder.name, done, len(uids))
            if len(processed) < len(group):
                return  # asked to stop: every mail done so far is committed; the rest is read next time
        with self.app.store.unit() as unit:
            unit.advance_folder(folder.name, max(found))

    def _first_meeting(self, mailbox: Mailbox, name: str, uidvalidity: int, uidnext: int, now: datetime) -> FolderState:
        """Record where the folder stood when inboxbot first met it, and how far back to read."""
        since = self.app.settings.imap.ingest_since
        baseline = uidnext - 1
        if since is None:
            log.info("folder %s: first met; mail already there is left alone, new mail is read", name)
            # To the second, like INTERNALDATE: a mail arriving in this very second counts as new.
            cutoff = now.replace(microsecond=0)
            return FolderState(name, uidvalidity, baseline, baseline, cutoff=cutoff, first_seen_at=now)
        cutoff = datetime.combine(since, time(0), self.app.settings.organisation.timezone)
        candidates = [uid for uid in mailbox.uids_since(since) if uid <= baseline]
        last_uid = (min(candidates) - 1) if candidates else baseline
        log.info("folder %s: first met; reading %d mail(s) received since %s", name, len(candidates), since)
        return FolderState(name, uidvalidity, baseline, last_uid, cutoff=cutoff, first_seen_at=now)

    # -- one mail --------------------------------------------------------------------------

    def _process_group(
        self, group: Sequence[FetchedMail], role: FolderRole, report: CycleReport
    ) -> list[tuple[FetchedMail, MailOutcome]]:
        """Process mails in one transaction; what became of each.

        One commit (and one archive sync) per group instead of per mail: in a mail storm the
        per-mail commit and fsync cost more than everything else together. A crash loses only
        the group's uncommitted work, which the next cycle reads again from the server.

        The group is first processed without a savepoint per mail (they cost as much as a tenth of
        processing a mail); if a mail fails inside inboxbot, nothing of that attempt is kept and the
        group is processed again, each mail in its own savepoint, so that the failing one alone is
        set aside.
        """
        opened = len(report.opened)
        try:
            return self._process_together(group, role, report, alone=False)
        except MailFailed as failed:
            del report.opened[opened:]
            log.warning(
                "mail UID %s in %s failed: its group of %d mail(s) is processed again, each mail on its own",
                failed.uid,
                failed.folder,
                len(group),
            )
        except SQLAlchemyError as exc:
            # The commit itself refused what one of the mails wrote; which one, only mails on
            # their own can tell.
            if not tied_to_its_data(exc):
                raise
            del report.opened[opened:]
            log.warning(
                "the database refused a group of %d mail(s) from %s (%s): processed again, each mail on its own",
                len(group),
                group[0].folder,
                type(exc).__name__,
            )
        return self._process_together(group, role, report, alone=True)

    def _process_together(
        self, group: Sequence[FetchedMail], role: FolderRole, report: CycleReport, alone: bool
    ) -> list[tuple[FetchedMail, MailOutcome]]:
        processed: list[tuple[FetchedMail, MailOutcome]] = []
        with self.app.store.unit() as unit:
            for fetched in group:
                if self.should_stop():
                    break
                processed.append((fetched, self.one_mail().process(unit, fetched, role, report, alone=alone)))
            if processed:
                unit.advance_folder(group[0].folder, processed[-1][0].uid)
            # The archived files must be on disk before the commit that says they are archived.
            self.app.archive.sync()
        return processed


def _groups(
    mails: Iterable[FetchedMail], count: int = GROUP_MAILS, size: int = GROUP_BYTES
) -> Iterator[list[FetchedMail]]:
    """The fetched mails in groups of at most `count` mails or about `size` bytes."""
    group: list[FetchedMail] = []
    total = 0
    for mail in mails:
        group.append(mail)
        total += len(mail.raw)
        if len(group) >= count or total >= size:
            yield group
            group, total = [], 0
    if group:
        yield group
