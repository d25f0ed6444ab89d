"""Everything known about one mail before deciding: threading, rules, proof, recognition, commands.

Her authority comes from proof, never from the From header: a mail in her name is read twice, as
hers and as anyone's, until something proves it hers. What is read here is all `decide` gets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from inboxbot.adapters.imap import FetchedMail
from inboxbot.bootstrap import App
from inboxbot.domain.conversation import find_thread
from inboxbot.domain.deadlines import local_midnight
from inboxbot.domain.decide import (
    INBOX,
    AwaitProof,
    Decision,
    Facts,
    Original,
    Pending,
    Policy,
    Recognition,
    claimant_of,
    decide,
    decide_in_her_name,
)
from inboxbot.domain.decide import SENT as SENT_ROLE
from inboxbot.domain.mail_commands import Command, Refusal, named_numbers
from inboxbot.domain.mailboxes import mailbox_key
from inboxbot.domain.message import LOOP_HEADER, ParsedMail
from inboxbot.domain.rules import RuleContext
from inboxbot.domain.vocabulary import CaseStatus, Channel, FolderRole
from inboxbot.outgoing.outbox import is_inboxbot_message_id
from inboxbot.procedure.forwards import NO_VERDICT, Forwards, forward_author, is_reporter, recognition_of
from inboxbot.reading.automatic import automatic_reason, bounced_message_ids
from inboxbot.reading.forward import ForwardedMail, extract_forwarded
from inboxbot.reading.proof import dmarc_failure, prove_sender, spam_mark
from inboxbot.reading.quotes import commands_in, new_text
from inboxbot.reading.webform import FormSubmission, form_plugin, read_form
from inboxbot.store.repository import Unit, mail_reference


@dataclass(frozen=True)
class Reading:
    """A mail as understood before deciding: the facts `decide` needs, and its commands."""

    facts: Facts
    commands: tuple[Command | Refusal, ...]
    proof: str  # why it is known to be the director's, or ""
    # For a mail in her name that nothing proves hers: it read as anyone's (`facts` is it read as hers).
    as_stranger: Facts | None = None

    def decision(self, policy: Policy) -> tuple[Decision, Reading]:
        """What to do with the mail, and the reading the decision rests on."""
        if self.as_stranger is None:
            return decide(self.facts, policy), self
        decision = decide_in_her_name(self.facts, self.as_stranger, policy)
        if isinstance(decision, AwaitProof):
            return decision, self
        return decision, Reading(self.as_stranger, (), "")


class MailReader:
    def __init__(self, app: App, forwards: Forwards) -> None:
        self.app = app
        self.forwards = forwards
        self.tz = app.settings.organisation.timezone
        self.directors = frozenset(app.settings.director.addresses)
        # The new text of the mail at hand once read for the recognizer, kept for its record.
        self._fresh: tuple[ParsedMail, str] | None = None

    def own_words(self, mail: ParsedMail) -> str | None:
        """The new text read of `mail` for the recognizer, if it was: handed over once, then forgotten."""
        fresh = self._fresh[1] if self._fresh is not None and self._fresh[0] is mail else None
        self._fresh = None
        return fresh

    def read(self, unit: Unit, mail: ParsedMail, fetched: FetchedMail, role: FolderRole) -> Reading:
        """Everything known about the mail before deciding: threading, rules, proof, commands.

        Her authority comes from proof, never from the From header: a mail in her name is read
        as hers only once proven (her Sent folder, or her receiving server's authentication).
        Unproven, it is read twice, as hers and as anyone's, for `decide_in_her_name` to give it
        no more than anyone's mail gets unless her proof comes.
        """
        settings = self.app.settings
        sender = mail.from_.email if mail.from_ else None
        # Ours only by what only we put there; another inboxbot's loop header is merely automatic.
        # Every Message-ID in the outbox is made by new_message_id, so its prefix is enough.
        own = (mail.header(LOOP_HEADER) or "").strip().lower() == settings.smtp.from_address or (
            mail.message_id is not None and is_inboxbot_message_id(mail.message_id)
        )
        automatic = automatic_reason(mail)
        # A website form's notification is a machine's mail about a person's claim: its no-reply
        # sender or "auto-generated" mark does not make the claim automatic (bounces, loops,
        # out-of-office replies and lists still do).
        web_form = not own and role != SENT_ROLE and form_plugin(mail) is not None
        if web_form and automatic is not None and _form_may_be_automatic(automatic):
            automatic = None
        bounced = bounced_message_ids(mail, fetched.raw) if automatic else ()
        in_her_name = sender is not None and sender in self.directors
        proof = ""
        if in_her_name and role == SENT_ROLE:
            proof = "its copy is in the director's Sent folder"
        elif in_her_name and sender is not None:
            checked = prove_sender(mail, sender, settings.director.authserv_ids)
            proof = checked.reason if checked.proven else ""
        recipients = [a.email for a in (*mail.to, *mail.cc)]
        to_self = bool(recipients) and all(r in self.app.policy.own_addresses for r in recipients)
        common = Facts(
            mail=mail,
            folder_role=role,
            received_at=fetched.internaldate,
            thread=None,
            verdict=NO_VERDICT,
            own=own,
            automatic=automatic,
            to_self=to_self,
            # Only her notes need it; every Message-ID inboxbot makes says so by its prefix.
            answers_inboxbot=to_self and any(is_inboxbot_message_id(mid) for mid in mail.thread_ids),
            dmarc_fail=dmarc_failure(mail, settings.director.authserv_ids) if role != SENT_ROLE else "",
        )
        if not in_her_name:
            return Reading(self._view(unit, common, bounced, as_hers=False, web_form=web_form), (), "")
        commands = tuple(commands_in(mail.text, mail.html, mail.subject)) if to_self and not own else ()
        as_hers = self._view(
            unit, replace(common, proven=bool(proof), has_commands=bool(commands)), bounced, True, web_form=web_form
        )
        if proof:
            return Reading(as_hers, commands, proof)
        as_stranger = self._view(unit, common, bounced, as_hers=False, unproven=True, web_form=web_form)
        return Reading(as_hers, commands, "", as_stranger=as_stranger)

    def _view(
        self,
        unit: Unit,
        common: Facts,
        bounced: Sequence[str],
        as_hers: bool,
        unproven: bool = False,
        web_form: bool = False,
    ) -> Facts:
        """The facts of a mail read as the director's (`as_hers`) or as anyone's; `unproven`: its
        From names her but is not to be believed, so it takes part in no case as her."""
        mail, role = common.mail, common.folder_role
        thread = find_thread(
            mail,
            unit,
            self.directors if as_hers else (),
            bounced,
            unproven=unproven,
            named_numbers=named_numbers(mail.subject) if as_hers else (),
        )
        foreign = None
        if thread is not None and not thread.sender_participates and common.automatic is None and role != SENT_ROLE:
            # Message-IDs can be forged: a stranger naming someone else's case does not join it.
            foreign, thread = thread.case, None
        verdict = self.app.rules.evaluate(
            RuleContext(
                mail=mail,
                from_director=as_hers,
                known_case=thread is not None,
                automatic=common.automatic is not None,
                web_form=web_form,
            )
        )
        closed = thread is not None and thread.case.status != CaseStatus.OPEN
        form = read_form(mail) if verdict.channel == Channel.FORM else None
        # A stranger's own mail (not hers, proven or not): what the receiving server and the
        # recognizer say of it.
        human = not as_hers and not unproven and not common.own and common.automatic is None and role == INBOX
        spam = spam_mark(mail, self.app.settings.director.authserv_ids) if human else None
        forwarded: ForwardedMail | None = None
        original: Original | None = None
        transmission = None
        if human and thread is None and foreign is None:
            transmission = self.forwards.transmission(unit, mail, verdict, spam is not None)
        if transmission is not None:
            # Passed on by a third party: the claim is its author's, the forwarder its transmitter.
            forwarded = transmission.forwarded
            verdict = replace(verdict, channel=Channel.THIRD_PARTY, hits=(*verdict.hits, "transmitted-by-third-party"))
        elif verdict.channel == Channel.THIRD_PARTY and thread is None and not common.own:
            located = self.forwards.locate(unit, mail, common.received_at) if as_hers else None
            original = located.original if located is not None else None
            forwarded = located.forwarded if located is not None else extract_forwarded(mail, self.tz)
        facts = replace(
            common,
            thread=thread,
            verdict=verdict,
            from_director=as_hers,
            forwarded_author=forward_author(self.app.policy, forwarded),
            original=original,
            form_claimant=form.claimant if form is not None else None,
            answers_feedback_request=closed and "satisfaction_request" in unit.outbox_purposes(mail.thread_ids),
            foreign_case=foreign,
            spam=spam,
        )
        if transmission is not None and verdict.action is None:
            facts = replace(facts, recognition=transmission.recognition)
        elif human and thread is None and foreign is None and verdict.action is None:
            facts = replace(facts, recognition=self._recognise(unit, mail, form, spam is not None))
            if facts.recognition is not None:
                facts = replace(facts, pending=self._pending(unit, mail))
        claimant = claimant_of(facts) if thread is None and common.automatic is None and not common.own else None
        midnight = local_midnight(self.app.clock(), self.tz)
        if transmission is not None and mail.from_ is not None:
            facts = replace(facts, thanks_today=unit.acknowledgements_since(mailbox_key(mail.from_.email), midnight))
        if claimant is None:
            return facts
        # The cap is counted on whom the acknowledgement would reach, every spelling of it together.
        count = unit.acknowledgements_since(mailbox_key(claimant.email), midnight)
        cap = self.app.policy.daily_cap_total
        total = unit.acknowledgements_since(None, midnight, at_most=cap) if cap else 0
        return replace(facts, acknowledgements_today=count, acknowledgements_today_total=total)

    def _pending(self, unit: Unit, mail: ParsedMail) -> Pending | None:
        """The candidate still « à qualifier » this mail continues: its thread's, else its author's.

        A trainer or a partner writes about many sessions: their next mail is only a follow-up when
        it answers in the thread, never for being theirs."""
        sender = mail.from_.email if mail.from_ else None
        if sender is not None and is_reporter(self.app, unit, sender):
            sender = None
        found = unit.pending_candidate(mail.thread_ids, sender)
        if found is None or found[0].id is None:
            return None
        candidate_id = found[0].id
        return Pending(candidate_id, mail_reference(candidate_id), same_thread=found[1])

    def _recognise(self, unit: Unit, mail: ParsedMail, form: FormSubmission | None, spam: bool) -> Recognition | None:
        """What the recognizer reads in the mail's own words, in shared mode; None otherwise."""
        recognizer = self.app.recognizer
        if recognizer is None or self.app.settings.imap.mode != "shared":
            return None
        # Its own words, as the exchange log keeps them: quotes and signatures are not its claim.
        fresh = new_text(mail.text, mail.html)
        self._fresh = (mail, fresh)
        claimant = mail.from_.email if mail.from_ else None
        words = fresh
        if form is not None:
            # The person who filled the form in wrote the message field; the rest is the plugin's.
            claimant = form.claimant.email if form.claimant else None
            words = form.message or fresh
        reporter = claimant is not None and is_reporter(self.app, unit, claimant)
        return recognition_of(recognizer.assess(mail.subject, words, sender_is_reporter=reporter, spam=spam))


def _form_may_be_automatic(reason: str) -> bool:
    """Whether `reason` is only what every form notification looks like (a no-reply sender, an
    "auto-generated" mark), not a sign of an automatic reply, a report or a list."""
    folded = reason.lower()
    return folded.endswith("(no-reply address)") or folded.startswith("auto-submitted: auto-generated")
