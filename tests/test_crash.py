"""SIGKILL at 40 points of the pipeline while a mailbox of a few hundred mails is read.

Each kill point is a function of the product (or of a library it calls) after or before whose Nth
call the process kills itself with SIGKILL (tests/crashpoint.py): after the FETCH response arrived,
mid-archive-write, after parsing, after deciding, inside the transaction, just before and just after
its commit, after the follow-up, before a send, after the SMTP server's 250, around the recording of
it. Before each killed run a wave of new mail arrives (claims, one with an attachment, a reply to an
earlier case, a newsletter, a personal mail, a proven command of the director); after each kill a
clean run restarts, and the whole account is checked against the mailbox and the SMTP sink:

- every mail of the mailbox is in exactly one place: a case's log, or the record of mail without a
  case with what became of it and why; its raw bytes are in the archive;
- every claim has exactly one acknowledgement queued, and every queued mail was sent;
- a mail reached the SMTP server twice only when the kill fell after the server accepted it and
  before that was recorded; those are counted and identified, and there is no other duplicate.

Runs in the budget because every run is a fork of one process with inboxbot already imported.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import MailAccount
from crashpoint import Zygote
from databases import fresh_database_url, rows
from e2e import account_config, register
from mails import make_mail
from servers import SmtpSink

from inboxbot.store.repository import Store

DIRECTOR = "alice@cafemetrie.example"
TRUSTED_MX = "mx.cafemetrie.example"
CLAIMS_PER_WAVE = 4

REPO = "inboxbot.store.repository"
COMMIT = "sqlalchemy.orm.session:SessionTransaction.commit"

# (kill point, whether it falls between the SMTP server's acceptance and the recording of it)
KILL_POINTS: list[tuple[str, bool]] = [
    # fetch
    ("after:imapclient:IMAPClient.fetch:1", False),  # a batch of bodies arrived, nothing done with it
    ("before:inboxbot.procedure.onemail:OneMail.process:3", False),
    ("before:inboxbot.procedure.folders:FolderSync.sync_folder:2", False),  # the inbox done, the Sent folder not yet
    # archive
    ("after:inboxbot.adapters.archive:Archive.store:1", False),
    ("before:os:replace:2", False),  # mid-archive-write: the temporary file written, not renamed
    ("after:inboxbot.adapters.archive:Archive.store:5", False),
    ("after:inboxbot.adapters.archive:Archive.store_attachment:1", False),
    # parse, thread, rules, decide
    ("before:inboxbot.procedure.onemail:parse:2", False),
    ("after:inboxbot.procedure.onemail:parse:4", False),
    ("after:inboxbot.procedure.reader:MailReader.read:6", False),
    ("after:inboxbot.procedure.reader:decide:3", False),
    # inside the mail's transaction
    (f"after:{REPO}:Unit.next_case_number:1", False),
    ("after:inboxbot.procedure.applying:open_case:2", False),
    (f"after:{REPO}:Unit.queue:1", False),
    (f"after:{REPO}:Unit.record_mail:3", False),
    (f"after:{REPO}:Unit.add_event:4", False),
    (f"after:{REPO}:Unit.add_attachment:1", False),
    ("after:inboxbot.procedure.casework:Casework.carry_out:1", False),  # a command obeyed, its report not queued
    (
        "before:inboxbot.procedure.onemail:OneMail._process_parsed:4",
        False,
    ),  # the group's earlier mails done, uncommitted
    # the group's commit: every mail processed, the archive synced, the folder advanced, then committed
    (f"before:{REPO}:Unit.advance_folder:1", False),
    ("before:inboxbot.adapters.archive:Archive.sync:1", False),
    ("after:inboxbot.adapters.archive:Archive.sync:1", False),
    # commits
    (f"before:{COMMIT}:2", False),
    (f"after:{COMMIT}:3", False),
    (f"after:{COMMIT}:6", False),
    (f"before:{COMMIT}:9", False),
    # follow-up (satisfaction requests)
    ("after:inboxbot.procedure.pipeline:Pipeline.poll:1", False),
    (f"after:{REPO}:Unit.cases_due_for_feedback:1", False),
    ("before:inboxbot.procedure.pipeline:Pipeline.flush_outbox:1", False),
    # sending
    (f"after:{REPO}:Unit.due_outgoing:1", False),
    ("after:aiosmtplib:SMTP.connect:1", False),
    ("before:aiosmtplib:SMTP.sendmail:1", False),
    ("before:aiosmtplib:SMTP.sendmail:4", False),
    ("after:aiosmtplib:SMTP.sendmail:1", True),  # accepted by the server, not yet recorded
    ("after:aiosmtplib:SMTP.sendmail:3", True),
    (f"before:{REPO}:Store.mark_sent:2", True),
    (f"after:{REPO}:_mark_sent:4", True),  # recorded but not committed
    ("before:aiosmtplib:SMTP.quit:1", False),
    ("before:inboxbot.procedure.pipeline:Pipeline.record_cycle:1", False),
    (f"after:{COMMIT}:15", False),
]


@dataclass(frozen=True)
class Sent:
    """A mail put in the mailbox and what must become of it."""

    message_id: str
    kind: str  # claim, reply, newsletter, personal, command
    sender: str
    raw: bytes
    claim: str = ""  # for a reply: the Message-ID of the claim it continues


def mid(value: str) -> str:
    return value.strip().strip("<>")


@pytest.fixture
def zygote() -> Iterator[Zygote]:
    process = Zygote()
    yield process
    process.close()


class Campaign:
    def __init__(self, tmp_path: Path, account: MailAccount, sink: SmtpSink, zygote: Zygote) -> None:
        self.tmp_path = tmp_path
        self.account = account
        self.sink = sink
        self.zygote = zygote
        self.config = account_config(tmp_path, account, sink, extra="[feedback]\ndelay_days = 0\n")
        text = self.config.read_text().replace(
            'digest_time = "08:00"', f'digest_time = "08:00"\nauthserv_ids = ["{TRUSTED_MX}"]'
        )
        self.config.write_text(text)
        self.mails: list[Sent] = []
        self.closed: list[str] = []  # claimants whose case the director closed
        self.expected_twice: dict[str, str] = {}  # Message-ID -> the kill point that doubles it
        self.runs = 0

    # -- the mailbox ---------------------------------------------------------------------

    def wave(self, number: int) -> None:
        """A few new mails of every sort, appended at once."""
        wave: list[Sent] = []
        for index in range(CLAIMS_PER_WAVE):
            sender = f"c{number}-{index}@example.fr"
            message_id = f"<claim-{number}-{index}@example.fr>"
            attachments = (
                [("attestation.pdf", b"%PDF-1.4 " + bytes(range(256)), "application/pdf")] if index == 0 else []
            )
            raw = make_mail(
                f"Claimant {number}-{index} <{sender}>",
                DIRECTOR,
                f"Réclamation {number}-{index} : attestation non reçue",
                f"Bonjour,\n\nJe n'ai pas reçu mon attestation ({number}-{index}).\n",
                message_id=message_id,
                attachments=attachments,
            )
            wave.append(Sent(mid(message_id), "claim", sender, raw))
        cases = dict(rows(self.tmp_path, "SELECT claimant, number FROM cases"))
        if number:
            earlier = f"c{number - 1}-0@example.fr"
            message_id = f"<reply-{number}@example.fr>"
            raw = make_mail(
                earlier,
                DIRECTOR,
                f"RE: Réclamation {number - 1}-0 : attestation non reçue",
                "Je précise : la session de mars.\n",
                message_id=message_id,
                in_reply_to=f"<claim-{number - 1}-0@example.fr>",
            )
            wave.append(Sent(mid(message_id), "reply", earlier, raw, claim=f"claim-{number - 1}-0@example.fr"))
            # A command of the director, proven by her receiving server: close a case, or add a note.
            target = f"c{number - 1}-1@example.fr"
            line = "#réponse téléphone réglé\n#clore" if number % 2 else "#note appel de la stagiaire"
            if number % 2:
                self.closed.append(target)
            message_id = f"<command-{number}@cafemetrie.example>"
            raw = make_mail(
                f"Alice <{DIRECTOR}>",
                DIRECTOR,
                f"[Dossier {cases[target]}]",
                f"{line}\n",
                message_id=message_id,
                extra_headers={
                    "Authentication-Results": f"{TRUSTED_MX}; dkim=pass header.d=cafemetrie.example; "
                    f"spf=pass smtp.mailfrom={DIRECTOR}"
                },
            )
            wave.append(Sent(mid(message_id), "command", DIRECTOR, raw))
        message_id = f"<news-{number}@lists.example.com>"
        raw = make_mail(
            "Lettre <news@lists.example.com>",
            DIRECTOR,
            f"Les formations du mois {number}",
            "Nos offres.\n",
            message_id=message_id,
            extra_headers={"List-Id": "<offres.lists.example.com>", "Precedence": "bulk"},
        )
        wave.append(Sent(mid(message_id), "newsletter", "news@lists.example.com", raw))
        message_id = f"<lunch-{number}@example.net>"
        raw = make_mail(
            "Paul <paul@example.net>", DIRECTOR, f"Déjeuner jeudi {number} ?", "On se voit ?\n", message_id=message_id
        )
        wave.append(Sent(mid(message_id), "personal", "paul@example.net", raw))
        with self.account.client() as client:
            client.multiappend("INBOX", [sent.raw for sent in wave])
        self.mails.extend(wave)

    # -- running -------------------------------------------------------------------------

    def run(self, kill_at: str | None = None) -> tuple[bool, str]:
        self.runs += 1
        log = self.tmp_path / f"run-{self.runs:03d}.log"
        outcome = self.zygote.run(
            ["--config", str(self.config), "run", "--once"], log, kill_at=[kill_at] if kill_at else []
        )
        if kill_at is None:
            assert not outcome.killed and outcome.code == 0, outcome.output()
        return outcome.killed, outcome.output()

    # -- the account -----------------------------------------------------------------------

    def check(self, after: str) -> None:
        """The account read straight from the database: cheap enough for every restart."""
        places: dict[str, list[str]] = defaultdict(list)
        cases = {row[0]: row[1:] for row in rows(self.tmp_path, "SELECT id, number, claimant, status FROM cases")}
        for message_id, key, case_id, outcome, reason in rows(
            self.tmp_path, "SELECT message_id, message_key, case_id, outcome, reason FROM mails"
        ):
            if case_id is None:
                assert reason, f"after {after}: {message_id} ({outcome}) has no reason"
            places[mid(message_id or key)].append(outcome if case_id is None else f"case {cases[case_id][0]}")
        claimants = {claimant: (number, status) for number, claimant, status in cases.values()}
        self.verify(after, places, claimants, len(cases))
        self.check_archive()

    def final_check(self) -> None:
        """The same account as a user reads it: the register export and the record of mail without a case."""
        places: dict[str, list[str]] = defaultdict(list)
        cases = register(self.config)
        for case in cases:
            for entry in case["messages"]:
                if entry["direction"] == "in":
                    places[mid(entry["message_id"])].append(f"case {case['number']}")
        store = Store.open(fresh_database_url(self.tmp_path))
        try:
            with store.unit() as unit:
                for record in unit.mails_without_case():
                    assert record.reason, f"{record.message_id} ({record.outcome}) has no reason"
                    places[mid(record.message_id or record.message_key)].append(record.outcome)
        finally:
            store.close()
        claimants = {c["claimant"]: (c["number"], c["status"]) for c in cases}
        self.verify("the final run", places, claimants, len(cases))

    def verify(
        self, after: str, places: dict[str, list[str]], case_of_claimant: dict[str, tuple[str, str]], case_count: int
    ) -> None:
        """Everything the mailbox holds is accounted for once, and every mail due was sent once."""
        expected = {sent.message_id: sent for sent in self.mails}
        assert set(places) == set(expected), f"after {after}: unexpected {set(places) ^ set(expected)}"
        for sent in self.mails:
            where = places[sent.message_id]
            assert len(where) == 1, f"after {after}: {sent.message_id} is in {where}"
            if sent.kind == "claim":
                assert where == [f"case {case_of_claimant[sent.sender][0]}"], (after, sent, where)
            elif sent.kind == "reply":
                assert where == [f"case {case_of_claimant[sent.sender][0]}"], (after, sent, where)
            elif sent.kind == "command":
                assert where == ["commands"], (after, sent, where)
            elif sent.kind == "newsletter":
                assert where == ["automatic"], (after, sent, where)
            else:
                assert where == ["ignored"], (after, sent, where)
        claimants = {sent.sender for sent in self.mails if sent.kind == "claim"}
        assert case_count == len(claimants), f"after {after}: {case_count} cases for {len(claimants)} claims"
        assert set(case_of_claimant) == claimants, f"after {after}: {case_of_claimant.keys() ^ claimants}"
        for claimant in self.closed:
            assert case_of_claimant[claimant][1] == "closed", (after, claimant)

        outbox = rows(self.tmp_path, "SELECT message_id, status, purpose, recipient FROM outbox")
        assert {status for _, status, _, _ in outbox} == {"sent"}, (
            f"after {after}: {Counter(s for _, s, _, _ in outbox)}"
        )
        purposes = Counter((purpose, recipient) for _, _, purpose, recipient in outbox)
        for claimant in claimants:
            assert purposes[("acknowledgement", claimant)] == 1, (after, claimant)
        for claimant in self.closed:
            assert purposes[("satisfaction_request", claimant)] == 1, (after, claimant)

        received = Counter(mid(m.message["Message-ID"]) for m in self.sink.messages)
        queued = {mid(message_id) for message_id, _, _, _ in outbox}
        assert set(received) == queued, f"after {after}: sent but never queued: {set(received) - queued}"
        for message_id, times in received.items():
            expected_times = 2 if message_id in self.expected_twice else 1
            assert times == expected_times, f"after {after}: {message_id} received {times} times"

    def check_archive(self) -> None:
        archived = {path.stem for path in (self.tmp_path / "archive").rglob("*.eml")}
        missing = [sent.message_id for sent in self.mails if hashlib.sha256(sent.raw).hexdigest() not in archived]
        assert not missing, f"not archived: {missing}"


def test_sigkill_at_every_step_loses_nothing_and_doubles_only_what_the_smtp_server_had_accepted(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink, zygote: Zygote
) -> None:
    campaign = Campaign(tmp_path, mail_account, smtp_sink, zygote)
    zygote.warm(campaign.config)
    campaign.run()  # meets the empty mailbox
    for number, (point, in_window) in enumerate(KILL_POINTS):
        campaign.wave(number)
        before = len(smtp_sink.messages)
        killed, output = campaign.run(kill_at=point)
        assert killed, f"kill point {point} was never reached:\n{output}"
        accepted = smtp_sink.messages[before:]
        if in_window:
            # The mail in flight when the process died: the server has it, the outbox does not know.
            assert accepted, f"{point}: no mail was accepted before the kill"
            campaign.expected_twice[mid(accepted[-1].message["Message-ID"])] = point
        campaign.run()  # the restart
        campaign.check(after=point)
    campaign.run()  # a final clean run changes nothing
    campaign.final_check()

    assert len(campaign.mails) >= 250
    doubled = Counter(mid(m.message["Message-ID"]) for m in smtp_sink.messages)
    assert {message_id for message_id, times in doubled.items() if times > 1} == set(campaign.expected_twice)
    assert len(campaign.expected_twice) == sum(window for _, window in KILL_POINTS)
