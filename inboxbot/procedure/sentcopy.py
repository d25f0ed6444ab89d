"""Copies of what inboxbot sends, saved to the director's Sent folder (`imap.save_sent`).

SMTP does not file a copy of a mail anywhere; most mail clients APPEND one to Sent themselves, and
Gmail's and Microsoft 365's SMTP servers do it for them. Where neither happens, the director's
client would show her claimant's mails without inboxbot's answers. The copy is made after the SMTP
server accepted the mail, from the outbox row's exact bytes, so it threads like the mail that left.

It never holds up sending: IMAP down means the copies wait for a later cycle. Each copy is made
once: the row says "appending" before the APPEND and "done" after it; a crash in between leaves
"appending", and the next attempt first looks the copy up by its Message-ID.

When inboxbot later reads these copies in Sent, their Message-ID (and loop header) mark them as
its own, so `decide` ignores them: not logged twice, not taken for her reply, never run as commands.
"""

from __future__ import annotations

import logging
from datetime import datetime

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from inboxbot.adapters.imap import MailboxError
from inboxbot.bootstrap import App
from inboxbot.store.repository import SENT_COPY_APPENDING, SENT_COPY_DONE, SENT_COPY_REFUSED

log = logging.getLogger(__name__)

BATCH = 200
# Mails sent before save_sent was turned on are not copied: an old backlog would flood her Sent.
SINCE_KEY = "save_sent_since"


def save_sent_copies(app: App, started: datetime) -> int:
    """Copy to Sent every accepted mail not yet there; how many were copied. Never raises for IMAP."""
    copied = 0
    while True:
        with app.store.unit() as unit:
            since = unit.runtime().get(SINCE_KEY)
            if since is None:
                unit.set_runtime(SINCE_KEY, "", started)
            due = unit.sent_copies_due(started if since is None else since[1], BATCH)
            if due:
                unit.set_sent_copy([copy.outgoing_id for copy in due], SENT_COPY_APPENDING)
        if not due:
            return copied
        try:
            with app.mailbox() as mailbox:
                folder = mailbox.sent_folder()
                if folder is None:
                    log.warning("no Sent folder to save copies of sent mail to: set imap.sent_folder")
                    return copied
                for copy in due:
                    state = SENT_COPY_DONE
                    try:
                        if not (copy.maybe_there and mailbox.holds_message_id(folder, copy.message_id)):
                            mailbox.append_seen(folder, copy.raw, copy.sent_at)
                            copied += 1
                    except IMAPClientAbortError:
                        raise  # the connection, not this copy: all of them wait for the next cycle
                    except IMAPClientError as exc:
                        # The server answered NO to this copy alone (too large for the folder, say):
                        # it is given up, once, and the copies after it are made.
                        log.warning("copy of sent mail %s refused by the Sent folder: %s", copy.message_id, exc)
                        state = SENT_COPY_REFUSED
                    with app.store.unit() as unit:
                        unit.set_sent_copy([copy.outgoing_id], state)
        except (MailboxError, IMAPClientError, OSError) as exc:
            # An outage is logged by the cycle that met it; this only says what waits.
            log.info("copies of sent mail not saved to Sent yet (tried again next cycle): %s", exc)
            return copied
        if len(due) < BATCH:
            return copied
