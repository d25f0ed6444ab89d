"""The director's daily digest: one French mail saying what arrived, what waits for her and what is due.

The procedure's dates — acknowledgement within 15 working days, response within 30 days unless
extended with a reason, regular news to the claimant — are kept by the director, not by inboxbot.
She lives in her mail client, so the reminders come as one mail a day at `director.digest_time`
(only on working days by default), and every line names its case and says what to do next, with the
command to type. She can answer the digest itself: its subject carries no case tag, so every command
it suggests names its case on the line (`#clore 2026-0004`), which is how the commands parser finds
the case when the subject names none. No line of the text starts with `#`, so a quoted copy of the
digest that escaped quote detection still never reads as a command.

"Since the last digest" starts when the last digest that may have reached her was queued (one that
failed for good does not count, so its news is repeated), or 24 hours back for the very first one.
Everything here takes `now` as a value and never reads the clock, so a digest for any day can be
built and tested.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from inboxbot.bootstrap import App
from inboxbot.domain.cases import PURPOSE_LABELS
from inboxbot.domain.deadlines import WorkingDayCalendar
from inboxbot.domain.vocabulary import CaseStatus, Channel, Kind, OutboxStatus, Priority
from inboxbot.procedure.outages import OutageBook, OutageView
from inboxbot.store import overview
from inboxbot.store.overview import CandidateBrief, CaseBrief, Deadline, Listing, MailBrief
from inboxbot.store.repository import Unit

__all__ = ["Digest", "DigestView", "Line", "Section", "Step", "build_digest", "digest_due", "gather", "queue_digest"]

T = TypeVar("T")

TEMPLATE = overview.DIGEST_PURPOSE  # Letters queues a mail under its template's name
FIRST_WINDOW = timedelta(hours=24)
# Beyond this a section says "… et N de plus": a digest is read on a phone, not scrolled for an hour.
LINES_PER_SECTION = 40
LOCALE = "fr_FR"
SUBJECT_CHARS = 120
TEXT_CHARS = 300
# The recognizer's notes on a line « à qualifier »: why it is there beyond the words (the learned
# model, the shipped setting), a sentence or two, so a little more room than a quote.
NOTES_CHARS = 400
LOW_MARK = 2  # a satisfaction mark at or below this calls for a preventive action

CHANNEL_LABELS = Channel.briefs()
TO_CLAIMANT = frozenset(
    {
        "acknowledgement",
        "incident_acknowledgement",
        "extension_notice",
        "extension_change",
        "satisfaction_request",
        "closure_notice",
    }
)


@dataclass(frozen=True)
class Digest:
    """The rendered digest, for `inboxbot digest --print` to show exactly what `--send` would queue."""

    subject: str
    text: str
    html: str
    empty: bool


@dataclass(frozen=True)
class Step:
    """A piece of a line's "what to do next": prose, or a command to type as it is."""

    text: str
    command: bool = False


@dataclass(frozen=True)
class Line:
    """One line of the digest: a case number (or "" for a mail about no case), what it is, what to do."""

    number: str
    what: str
    todo: tuple[Step, ...] = ()

    @property
    def todo_text(self) -> str:
        return "".join(step.text for step in self.todo)

    @property
    def text(self) -> str:
        head = f"{self.number} — {self.what}" if self.number else f"• {self.what}"
        return f"{head} : {self.todo_text}" if self.todo else head


@dataclass(frozen=True)
class Section:
    lines: tuple[Line, ...]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.lines)


@dataclass(frozen=True)
class DigestView:
    """Everything the digest templates receive, as `digest`."""

    today: date
    since: datetime
    first: bool  # no earlier digest: the window is the last 24 hours
    horizon_end: date
    quiet_days: int
    open_count: int
    new_cases: Section
    triage: Section
    closed_cases: Section
    candidates: Section  # mails put before her, until she opens a case from them or sets them aside
    to_qualify: Section
    missed: Section
    coming: Section
    quiet: Section
    extensions: Section
    feedback: Section
    suspicious: Section
    set_aside: Section
    failures: Section
    outages: Section  # the mailbox unreadable or sending impossible long enough to matter

    @property
    def arrivals(self) -> int:
        return self.new_cases.total + self.triage.total + self.closed_cases.total

    @property
    def alerts(self) -> int:
        return self.suspicious.total + self.set_aside.total + self.failures.total + self.outages.total

    @property
    def empty(self) -> bool:
        """Nothing new and nothing to do. Extensions alone are not news: they are listed when the
        digest has something else to say, and their dates come up as deadlines when they near."""
        return not any(
            section.total
            for section in (
                self.new_cases,
                self.triage,
                self.closed_cases,
                self.candidates,
                self.to_qualify,
                self.missed,
                self.coming,
                self.quiet,
                self.feedback,
                self.suspicious,
                self.set_aside,
                self.failures,
                self.outages,
            )
        )


# -- the API --------------------------------------------------------------------------------------


def build_digest(app: App, now: datetime) -> Digest | None:
    """The digest as it would be sent at `now`; None when there is nothing to say and
    `digest.when_empty` is "skip". Queues nothing and changes nothing, so it reads without taking
    the database's write lock (`Store.reading`)."""
    with app.store.reading() as unit:
        view = gather(app, unit, now)
    if view.empty and app.settings.digest.when_empty == "skip":
        return None
    # The same context as Letters.to_director gives the templates, so --print shows what --send sends.
    rendered = app.renderer.mail(TEMPLATE, organisation=app.settings.organisation, case=None, digest=view)
    return Digest(subject=rendered.subject, text=rendered.text, html=rendered.html, empty=view.empty)


def queue_digest(app: App, now: datetime) -> bool:
    """Queue the digest for the director in the outbox; False if there was nothing to say and
    `digest.when_empty` is "skip". Read and queued in one transaction, so the window of the next
    digest starts exactly where this one's ended."""
    with app.store.unit() as unit:
        view = gather(app, unit, now)
        if view.empty and app.settings.digest.when_empty == "skip":
            return False
        from inboxbot.outgoing.letters import Letters  # composing mail (the outbox, aiosmtplib): not for --print

        Letters(app.settings, app.renderer).to_director(unit, TEMPLATE, now, digest=view)
    return True


def digest_due(app: App, now: datetime) -> bool:
    """Whether the daemon should queue today's digest now.

    True once today's digest time has passed, on a day that is not skipped, if no digest was queued
    since midnight (organisation time): a restart or a catch-up after an outage sends one, never two.
    With `when_empty = "skip"` an empty day queues nothing, so this stays true all day: the caller
    must remember that it already tried today (see the daemon).
    """
    settings = app.settings
    if not settings.digest.enabled:
        return False
    tz = settings.organisation.timezone
    local = now.astimezone(tz)
    today = local.date()
    if settings.digest.skip_non_working_days and not app.calendar.is_working_day(today):
        return False
    if local.time().replace(tzinfo=None) < settings.director.digest_time.replace(tzinfo=None):
        return False
    midnight = datetime.combine(today, time(0), tz)
    with app.store.unit() as unit:
        return not overview.digest_queued_between(unit, midnight, now)


# -- gathering ------------------------------------------------------------------------------------


def next_digest_day(today: date, calendar: WorkingDayCalendar, skip_non_working_days: bool) -> date:
    day = today + timedelta(days=1)
    while skip_non_working_days and not calendar.is_working_day(day):
        day += timedelta(days=1)
    return day


def gather(app: App, unit: Unit, now: datetime) -> DigestView:
    """Read every section (one query each) and word its lines."""
    settings = app.settings
    tz = settings.organisation.timezone
    calendar = app.calendar
    today = now.astimezone(tz).date()
    last = overview.last_digest_at(unit, before=now)
    since = last if last is not None else now - FIRST_WINDOW
    # Until the next digest at least: on a Friday or the eve of a public holiday, a deadline falling
    # before the next working day must be announced now, whatever the configured horizon.
    horizon_end = max(
        today + timedelta(days=settings.digest.horizon_days),
        next_digest_day(today, calendar, settings.digest.skip_non_working_days),
    )
    limit = LINES_PER_SECTION
    words = _Wording(today, tz, calendar)
    grace = timedelta(minutes=settings.director.proof_grace_minutes)
    notes = overview.mail_notes(unit, since, since - grace, now, limit)
    due = overview.deadlines(unit, today, horizon_end, limit)
    return DigestView(
        today=today,
        since=since,
        first=last is None,
        horizon_end=horizon_end,
        quiet_days=settings.digest.quiet_days,
        open_count=overview.open_count(unit),
        new_cases=_section(overview.new_cases(unit, since, now, limit), words.new_case),
        triage=_section(notes.triage, words.triage),
        closed_cases=_section(notes.closed_case, words.closed_case_mail),
        candidates=_section(overview.candidates(unit, limit), words.candidate),
        to_qualify=_section(overview.to_qualify(unit, limit, created_before=since), words.to_qualify),
        missed=_section(due.missed, words.deadline),
        coming=_section(due.coming, words.deadline),
        quiet=_section(
            overview.quiet_cases(unit, now - timedelta(days=settings.digest.quiet_days), limit), words.quiet
        ),
        extensions=_section(overview.extensions(unit, limit), words.extension),
        feedback=_section(notes.feedback, words.feedback),
        suspicious=_section(notes.suspicious, words.suspicious),
        set_aside=_section(notes.set_aside, words.set_aside),
        failures=_section(overview.send_failures(unit, since, now, limit), words.failure),
        outages=_section(_all(OutageBook(app).in_digest(unit, since, now)), words.outage),
    )


# The procedure asks her to rank what went wrong by its impact: urgent cases come first in every
# section, and say so, whatever order their dates give.
_PRIORITY_RANK: dict[str, int] = {Priority.URGENTE: 0, Priority.HAUTE: 1}
_PRIORITY_MARK: dict[str, str] = {Priority.URGENTE: "URGENT", Priority.HAUTE: "priorité haute"}


def _priority(item: object) -> str:
    case = getattr(item, "case", item)
    priority = getattr(case, "priority", None)
    return priority if isinstance(priority, str) else ""


def _section(listing: Listing[T], word: Callable[[T], Line]) -> Section:
    items = sorted(listing.items, key=lambda item: _PRIORITY_RANK.get(_priority(item), len(_PRIORITY_RANK)))
    lines = []
    for item in items:
        line, mark = word(item), _PRIORITY_MARK.get(_priority(item))
        lines.append(replace(line, what=f"{mark} — {line.what}") if mark else line)
    return Section(tuple(lines), listing.total)


# -- wording --------------------------------------------------------------------------------------


def _qualifying(reference: str, kind: Kind) -> tuple[Step, ...]:
    """The one-step commands that decide a mail put before her: open it (as each kind), or set it aside."""
    label = kind.label
    todo: list[Step] = [
        Step(f"pour ouvrir le dossier ({label}) et accuser réception à son auteur : "),
        Step(f"#ouvrir {reference}", True),
    ]
    for other in (other for other in Kind if other != kind):
        todo += [Step(f", en {other.label} : "), Step(f"#ouvrir {reference} {other.label}", True)]
    todo += [Step(" ; si ce n'en est pas un : "), Step(f"#ecarter {reference}", True)]
    return tuple(todo)


def _all(items: Sequence[T]) -> Listing[T]:
    return Listing(tuple(items), len(items))


def _one_line(text: str, limit: int) -> str:
    """Claimant text on one line and of bounded length: a digest line must stay a line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _quoted(subject: str) -> str:
    return f"« {_one_line(subject, SUBJECT_CHARS)} »" if subject.strip() else "(sans objet)"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count > 1 else ''}"


def _person(email: str | None, name: str) -> str:
    if email is None:
        return _one_line(name, 80) or "expéditeur inconnu"
    return f"{_one_line(name, 80)} <{email}>" if name.strip() else email


def _not_acknowledged(note: str) -> str:
    """In French, why a case got no automatic acknowledgement, when it is something she must know:
    the claimant must then be answered by hand, if at all (other reasons show in what to do).
    The notes are the decisions' own: imported with a digest to build, not by every idle cycle."""
    from inboxbot.domain.decide import DAILY_CAP_NOTE, DAILY_TOTAL_CAP_NOTE, DMARC_FAIL_NOTE

    if note.startswith(DMARC_FAIL_NOTE):
        return (
            "le domaine de l'expéditeur déclare ce message usurpé (échec DMARC constaté par votre serveur "
            "de réception) ; à vérifier avant toute réponse"
        )
    if note.startswith(DAILY_TOTAL_CAP_NOTE):
        return "plafond quotidien global d'accusés de réception atteint (acknowledgement.daily_cap_total)"
    if note.startswith(DAILY_CAP_NOTE):
        return "plafond quotidien d'accusés de réception atteint pour cette adresse ; répondre vous-même si besoin"
    return ""


def _claimant(case: CaseBrief) -> str:
    return _person(case.claimant, case.claimant_name) if case.claimant else "réclamant à identifier"


def _claimant_command(case: CaseBrief) -> Step:
    """`#réclamant` as it should be typed; with the name known, since the command replaces it."""
    if case.claimant is None:
        return Step(f"#réclamant {case.number} Nom <adresse>", command=True)
    return Step(f"#réclamant {case.number} {_person(case.claimant, case.claimant_name)}", command=True)


def _close_or_extend(case: CaseBrief, lead: str) -> tuple[Step, ...]:
    return (
        Step(lead),
        Step(f"#clore {case.number}", command=True),
        Step(", ou prolonger en justifiant : "),
        Step(f"#prolonger {case.number} <jours> <motif>", command=True),
    )


def _qualify(case: CaseBrief) -> tuple[Step, ...]:
    """The commands still needed to qualify `case`, or () when it is qualified."""
    needed: list[Step] = []
    if case.claimant is None:
        needed.append(_claimant_command(case))
    if case.nature is None:
        needed.append(Step(f"#nature {case.number} <nature>", command=True))
    if case.priority is None:
        needed.append(Step(f"#priorité {case.number} <priorité>", command=True))
    if not needed:
        return ()
    steps: list[Step] = [Step("à qualifier : ")]
    for index, step in enumerate(needed):
        if index:
            steps.append(Step(", "))
        steps.append(step)
    return tuple(steps)


class _Wording:
    """Turns the store's plain values into French lines, relative to the digest's day."""

    def __init__(self, today: date, tz: ZoneInfo, calendar: WorkingDayCalendar) -> None:
        self.today = today
        self.tz = tz
        self.calendar = calendar

    # -- dates ---------------------------------------------------------------------------------

    def day(self, value: date) -> str:
        """Like "mar. 12/01": the weekday tells whether a weekend lies between; the year is added when
        it is not this year's ("mer. 30/12/2026") and "férié" when a weekday is a public holiday.
        Babel is imported here: an idle cycle imports this module to know whether a digest is due."""
        from babel.dates import format_date

        shown = format_date(value, "EEE dd/MM", locale=LOCALE)
        if value.year != self.today.year:
            shown += f"/{value.year}"
        if value.weekday() < 5 and not self.calendar.is_working_day(value):
            shown += ", férié"
        return shown

    def instant(self, value: datetime) -> str:
        local = value.astimezone(self.tz)
        return f"{self.day(local.date())} à {local:%H:%M}"

    def due(self, value: date, feminine: bool) -> str:
        """Like "dû demain (mar. 12/01)", "due dans 3 jours (lun. 11/01)", "en retard de 2 jours (…)".

        In calendar days, as the response deadline is counted, never in working days: "dans 3 jours
        (lun. 11/01)" on a Friday cannot be misread, "dans 1 jour ouvré" could.
        """
        word = "due" if feminine else "dû"
        delta = (value - self.today).days
        if delta < 0:
            return f"en retard de {_plural(-delta, 'jour')} ({word} le {self.day(value)})"
        when = "aujourd'hui" if delta == 0 else "demain" if delta == 1 else f"dans {delta} jours"
        return f"{word} {when} ({self.day(value)})"

    def days_since(self, value: datetime) -> int:
        return (self.today - value.astimezone(self.tz).date()).days

    # -- cases ---------------------------------------------------------------------------------

    def describe(self, case: CaseBrief) -> str:
        kind = case.kind.label
        channel = case.channel.brief
        if case.channel == Channel.THIRD_PARTY and case.transmitter:
            channel = f"transmis par {case.transmitter}"
        who = f" de {_claimant(case)}" if case.claimant else ", réclamant à identifier"
        return f"{kind} ({channel}){who} : {_quoted(case.subject)}"

    def new_case(self, case: CaseBrief) -> Line:
        if case.status != CaseStatus.OPEN:
            todo: tuple[Step, ...] = (Step("déjà clos"),)
        else:
            todo = _qualify(case) or (
                Step(f"répondre d'ici le {self.day(case.effective_response_due)} puis "),
                Step(f"#clore {case.number}", command=True),
            )
        why = _not_acknowledged(case.not_acknowledged)
        what = self.describe(case) + (f" — aucun accusé de réception envoyé : {why}" if why else "")
        return Line(case.number, what, todo)

    def to_qualify(self, case: CaseBrief) -> Line:
        what = f"{self.describe(case)} (réception : {self.instant(case.received_at)})"
        return Line(case.number, what, _qualify(case))

    def deadline(self, item: Deadline) -> Line:
        case = item.case
        if item.what == "acknowledgement":
            return Line(case.number, f"accusé de réception {self.due(item.due, False)}", self._acknowledge(item))
        if item.what == "response":
            label = "réponse (délai prolongé)" if case.extended_due else "réponse"
            lead = "répondre au plus vite puis " if item.due < self.today else "répondre puis "
            return Line(case.number, f"{label} {self.due(item.due, True)}", _close_or_extend(case, lead))
        label = item.action_kind.label if item.action_kind else "action"
        owner = f" ({_one_line(item.action_owner, 80)})" if item.action_owner.strip() else ""
        closed = ", dossier clos" if case.status != CaseStatus.OPEN else ""
        what = (
            f"{label} n° {item.action_seq} « {_one_line(item.action_text, TEXT_CHARS)} »{owner}{closed} "
            f"{self.due(item.due, True)}"
        )
        todo = (Step("une fois faite : "), Step(f"#action {case.number} {item.action_seq} faite <résultat>", True))
        return Line(case.number, what, todo)

    def _acknowledge(self, item: Deadline) -> tuple[Step, ...]:
        case = item.case
        if case.claimant is None:
            # An oral or postal claim is often acknowledged by phone or letter: that is recorded, not re-sent.
            return (
                Step("indiquer le réclamant, l'accusé partira aussitôt : "),
                _claimant_command(case),
                Step(" ; ou, s'il a été fait autrement : "),
                Step(f"#accusé {case.number} <date> courrier", command=True),
            )
        if item.acknowledgement_status == OutboxStatus.PENDING:
            return (Step("l'accusé automatique attend d'être envoyé : vérifier le serveur d'envoi (inboxbot check)"),)
        if item.acknowledgement_status == OutboxStatus.FAILED:
            return (Step(f"l'envoi automatique a échoué : écrire à {case.claimant} depuis votre messagerie"),)
        return (Step("aucun accusé automatique n'est parti ; l'envoyer avec "), _claimant_command(case))

    def quiet(self, item: overview.QuietCase) -> Line:
        case = item.case
        if item.last_exchange is None:
            since = f"aucun échange depuis la réception, il y a {_plural(self.days_since(case.received_at), 'jour')}"
        else:
            days = _plural(self.days_since(item.last_exchange), "jour")
            since = f"dernier échange il y a {days} ({self.day(item.last_exchange.astimezone(self.tz).date())})"
        return Line(
            case.number,
            f"{self.describe(case)} — {since}",
            (Step("lui donner des nouvelles de l'avancement (mises à jour régulières de la procédure)"),),
        )

    def extension(self, case: CaseBrief) -> Line:
        new_due = case.effective_response_due
        reason = _one_line(case.extension_reason, TEXT_CHARS) or "non précisé"
        what = (
            f"réponse prolongée jusqu'au {self.day(new_due)} (au lieu du {self.day(case.response_due)}), "
            f"motif : « {reason} »"
        )
        return Line(
            case.number,
            what,
            (Step(f"répondre d'ici le {self.day(new_due)} puis "), Step(f"#clore {case.number}", command=True)),
        )

    def feedback(self, item: overview.Feedback) -> Line:
        case = item.case
        mark = f"{item.mark}/5" if item.mark is not None else "sans note lisible"
        comment = f" — « {_one_line(item.comment, TEXT_CHARS)} »" if item.comment.strip() else ""
        what = f"satisfaction {mark}{comment} ({_claimant(case)}, {self.instant(item.received_at)})"
        if item.mark is None:
            todo: tuple[Step, ...] = (
                Step("lire sa réponse et la consigner : "),
                Step(f"#note {case.number} <appréciation>", command=True),
            )
        elif item.mark <= LOW_MARK:
            todo = (
                Step("insatisfaction : envisager une action préventive, "),
                Step(f"#préventive {case.number} <action>", command=True),
            )
        else:
            todo = (Step("rien à faire, la réponse est au dossier"),)
        return Line(case.number, what, todo)

    # -- mails ---------------------------------------------------------------------------------

    def _mail(self, mail: MailBrief) -> str:
        sender = _person(mail.from_address, mail.from_name)
        return f"message de {sender} reçu le {self.instant(mail.received_at)} : {_quoted(mail.subject)}"

    def triage(self, mail: MailBrief) -> Line:
        if mail.reference is None:
            return Line(
                "",
                self._mail(mail),
                (
                    Step(
                        "si c'est une réclamation, le transférer à votre propre adresse avec [RECLAMATION] "
                        "dans l'objet ; sinon, rien à faire"
                    ),
                ),
            )
        return Line(mail.reference, self._mail(mail), _qualifying(mail.reference, Kind.RECLAMATION))

    def age(self, value: datetime) -> str:
        days = self.days_since(value)
        return "aujourd'hui" if days <= 0 else "hier" if days == 1 else f"il y a {days} jours"

    def candidate(self, mail: CandidateBrief) -> Line:
        """A mail that may be a claim or an incident, with the exact commands that decide it."""
        sender = _person(mail.from_address, mail.from_name)
        kind = mail.kind.label
        parts = [
            f"{kind} possible : message de {sender} reçu le {self.instant(mail.received_at)} "
            f"({self.age(mail.received_at)}) : {_quoted(mail.subject)}"
        ]
        if mail.spam:
            parts.append(f"marqué comme indésirable (spam) par le serveur de réception : {_one_line(mail.spam, 80)}")
        if mail.words:
            parts.append("mots relevés : " + _one_line(", ".join(mail.words), TEXT_CHARS))
        if mail.notes:
            # Set apart from the words it follows: on a phone the line wraps into a paragraph.
            parts.append("pourquoi : " + _one_line(" ; ".join(mail.notes), NOTES_CHARS))
        if mail.excerpt.strip():
            parts.append(f"extrait : « {_one_line(mail.excerpt, TEXT_CHARS)} »")
        if mail.messages > 1:
            # A follow-up or a reply in its thread joined it: one decision takes them all.
            parts.insert(1, f"{mail.messages} messages")
        return Line(mail.reference, " — ".join(parts), _qualifying(mail.reference, mail.kind))

    def closed_case_mail(self, mail: MailBrief) -> Line:
        return Line(
            mail.case_number or "",
            f"dossier clos, nouveau {self._mail(mail)}",
            (Step("le lire ; si la réclamation reprend : "), Step(f"#rouvrir {mail.case_number}", command=True)),
        )

    def suspicious(self, mail: MailBrief) -> Line:
        return Line(
            mail.case_number or "",
            f"{self._mail(mail)}, à votre nom mais sans preuve qu'il vienne de vous",
            (
                Step(
                    "sans effet (aucune commande exécutée, aucun dossier ouvert ou complété en votre nom) ; "
                    "si c'est bien vous, renvoyez-le depuis votre messagerie"
                ),
            ),
        )

    def set_aside(self, mail: MailBrief) -> Line:
        # A mail set aside may have no readable sender or subject: say what is known.
        sender = _person(mail.from_address, mail.from_name) if mail.from_address else "expéditeur illisible"
        subject = _quoted(mail.subject) if mail.subject else "sans objet lisible"
        return Line(
            "",
            f"message de {sender} reçu le {self.instant(mail.received_at)} ({subject}) mis de côté : "
            f"{_one_line(mail.reason, TEXT_CHARS)}",
            (
                Step(
                    "le lire dans votre messagerie ; si c'est une réclamation, le transférer à votre propre "
                    "adresse avec [RECLAMATION] dans l'objet"
                ),
            ),
        )

    def outage(self, outage: OutageView) -> Line:
        what = outage.label[:1].upper() + outage.label[1:]
        if outage.until is None:
            what += f" est impossible depuis le {self.instant(outage.since)} ({outage.duration}, panne en cours)"
        else:
            what += (
                f" a été impossible du {self.instant(outage.since)} au {self.instant(outage.until)} ({outage.duration})"
            )
        what += f" ; dernière erreur : {_one_line(outage.cause, TEXT_CHARS)}"
        return Line("", what, (Step(outage.meanwhile[:1].lower() + outage.meanwhile[1:]),))

    def failure(self, failure: overview.Failure) -> Line:
        label = PURPOSE_LABELS.get(failure.purpose, failure.purpose)
        error = _one_line(failure.error, TEXT_CHARS) or "erreur inconnue"
        what = f"échec de l'envoi : {label} à {failure.recipient} ({error})"
        if failure.purpose in TO_CLAIMANT:
            todo = Step(f"vérifier l'adresse et écrire à {failure.recipient} depuis votre messagerie")
        else:
            todo = Step("vérifier l'adresse et le serveur d'envoi (inboxbot check)")
        return Line(failure.case_number or "", what, (todo,))
