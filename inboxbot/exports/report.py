"""The annual report the procedure asks for: "un rapport annuel pour analyser les réclamations et les
incidents, identifier les tendances et proposer des améliorations".

It is read by the director when she reviews her year and by a Qualiopi auditor (indicators 31 and 32),
so every figure is one the auditor can recount from the register: counts by kind, nature, channel,
stakeholder and month; deadlines kept; extensions and their reasons; satisfaction; recurring causes;
corrective and preventive actions and whether they worked; the change against the previous year; the
date of the last review of the procedure. The closing "pistes d'amélioration" are derived from these
figures only, so they state facts and never invent advice the data does not support.

Cases classified "sans suite" were not claims: they are counted apart and left out of every other
figure, or a mail wrongly taken for a claim would lower the share of deadlines kept.

The HTML page is self-contained (inline CSS, charts as inline SVG, no script, no font or image to
fetch), so it can be mailed, archived with the audit evidence and opened offline years later. The
Markdown variant carries the same sections and tables. Text written by claimants or the director
(subjects, causes, actions, comments) is escaped for the format it lands in.
"""

from __future__ import annotations

import html
import re
import statistics
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import jinja2
import markupsafe
from babel.dates import format_date

from inboxbot.config import Settings, template_dirs
from inboxbot.domain.cases import (
    ACTION_LABELS,
    CHANNELS,
    KIND_LABELS,
    KINDS,
    NATURE_LABELS,
    STAKEHOLDERS,
    TRACKED_KINDS,
    Action,
    Case,
    CaseDetail,
    Risk,
    action_overdue,
)
from inboxbot.domain.deadlines import WorkingDayCalendar
from inboxbot.domain.mail_commands import NATURES
from inboxbot.domain.text import fold
from inboxbot.domain.vocabulary import ActionKind, ActionStatus, CaseStatus, Kind
from inboxbot.exports.register import CHANNEL_LABELS, deadline_met

__all__ = ["FORMATS", "YearFigures", "annual_report", "check_templates", "year_figures"]

FORMATS = ("html", "md")
LOCALE = "fr_FR"
LOW_MARK = 2  # a satisfaction mark at or below this is a dissatisfaction worth reading
TOP_TRAININGS = 10
UNSET = "non renseignée"
NBSP = "\u00a0"


# --- the figures -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineFigures:
    """One deadline of the procedure over a year: kept, missed, not yet due, and how long it took."""

    met: int
    missed: tuple[Case, ...]
    pending: int
    delays: tuple[int, ...]  # for every case where the step was done, whether on time or not

    @property
    def decided(self) -> int:
        return self.met + len(self.missed)

    @property
    def share(self) -> float | None:
        return self.met / self.decided if self.decided else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None

    @property
    def worst(self) -> int | None:
        return max(self.delays) if self.delays else None


@dataclass(frozen=True)
class KindDeadlines:
    """The deadlines of one group of kinds: réclamations are judged apart from incidents."""

    label: str  # French, plural: « réclamations », « aléas et difficultés »
    kinds: tuple[str, ...]
    acknowledgement: DeadlineFigures
    response: DeadlineFigures


# A réclamation's deadlines are the ones the procedure promises a claimant; an incident's response is
# what was done about it. Mixed, a good year of incidents would hide late answers to claimants.
KIND_GROUPS = (("réclamations", (Kind.RECLAMATION,)), ("aléas et difficultés", (Kind.ALEA, Kind.DIFFICULTE)))


@dataclass(frozen=True)
class CauseGroup:
    """One root cause, however it was typed, with the cases it was found on."""

    text: str  # as first written
    cases: tuple[Case, ...]


@dataclass(frozen=True)
class YearFigures:
    year: int
    cases: tuple[Case, ...]  # the year's cases, without those classified "sans suite"
    dismissed: tuple[Case, ...]
    acknowledgement: DeadlineFigures  # delays in working days
    response: DeadlineFigures  # delays in calendar days
    causes: tuple[CauseGroup, ...]  # most frequent first
    actions: tuple[tuple[Case, Action], ...]  # corrective, preventive and urgent measures
    mediations: int
    per_kind: tuple[KindDeadlines, ...] = ()

    def count(self, attribute: Callable[[Case], str | None]) -> Counter[str | None]:
        return Counter(attribute(case) for case in self.cases)

    @property
    def by_month(self) -> Counter[int]:
        return Counter(case.received_at.month for case in self.cases)

    @property
    def extended(self) -> tuple[Case, ...]:
        return tuple(case for case in self.cases if case.extended_due is not None)

    @property
    def feedback_requested(self) -> int:
        return sum(1 for case in self.cases if case.feedback_requested_at is not None)

    @property
    def marks(self) -> tuple[int, ...]:
        return tuple(case.satisfaction_mark for case in self.cases if case.satisfaction_mark is not None)

    @property
    def average_mark(self) -> float | None:
        return statistics.fmean(self.marks) if self.marks else None


def year_figures(
    details: Iterable[CaseDetail], year: int, tz: ZoneInfo, calendar: WorkingDayCalendar, today: date
) -> YearFigures:
    """The year's figures. Instants are taken in the organisation's time zone, as the deadlines are."""
    kept: list[CaseDetail] = []
    dismissed: list[Case] = []
    for detail in details:
        case = _local(detail.case, tz)
        if case.merged_into:
            continue  # the same claim as the case it joined (#fusionner), counted there once
        if case.dismissed:
            dismissed.append(case)
        else:
            kept.append(replace(detail, case=case))
    cases = tuple(detail.case for detail in kept)

    def acknowledgement_delay(case: Case, done: datetime) -> int:
        return calendar.working_days_between(case.received_at.date(), done.date())

    def response_delay(case: Case, done: datetime) -> int:
        return (done.date() - case.received_at.date()).days

    acknowledgement = _deadline(
        cases, lambda c: c.acknowledged_at, lambda c: c.acknowledge_due, acknowledgement_delay, tz, today
    )
    response = _deadline(cases, lambda c: c.responded_at, lambda c: c.effective_response_due, response_delay, tz, today)
    per_kind = tuple(
        KindDeadlines(
            label,
            kinds,
            _deadline(
                [c for c in cases if c.kind in kinds],
                lambda c: c.acknowledged_at,
                lambda c: c.acknowledge_due,
                acknowledgement_delay,
                tz,
                today,
            ),
            _deadline(
                [c for c in cases if c.kind in kinds],
                lambda c: c.responded_at,
                lambda c: c.effective_response_due,
                response_delay,
                tz,
                today,
            ),
        )
        for label, kinds in KIND_GROUPS
    )
    return YearFigures(
        year=year,
        cases=cases,
        dismissed=tuple(dismissed),
        acknowledgement=acknowledgement,
        response=response,
        causes=_causes(kept),
        actions=tuple((d.case, a) for d in kept for a in d.actions if a.kind in TRACKED_KINDS),
        mediations=sum(1 for d in kept for a in d.actions if a.kind == ActionKind.MEDIATION),
        per_kind=per_kind,
    )


def _local(case: Case, tz: ZoneInfo) -> Case:
    """The case with its instants in the organisation's zone, so dates and months read as she lived them."""

    def at(value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(tz)

    return replace(
        case,
        received_at=case.received_at.astimezone(tz),
        acknowledged_at=at(case.acknowledged_at),
        responded_at=at(case.responded_at),
        closed_at=at(case.closed_at),
    )


def _deadline(
    cases: Sequence[Case],
    done: Callable[[Case], datetime | None],
    due: Callable[[Case], date],
    delay: Callable[[Case, datetime], int],
    tz: ZoneInfo,
    today: date,
) -> DeadlineFigures:
    met = pending = 0
    missed: list[Case] = []
    delays: list[int] = []
    for case in cases:
        when = done(case)
        kept = deadline_met(when, due(case), tz, today)
        if kept is None:
            pending += 1
        elif kept:
            met += 1
        else:
            missed.append(case)
        if when is not None:
            delays.append(delay(case, when))
    return DeadlineFigures(met=met, missed=tuple(missed), pending=pending, delays=tuple(delays))


_PUNCTUATION = re.compile(r"[\W_]+")


def cause_key(text: str) -> str:
    """The form under which two causes are the same: no accents, case, punctuation or extra spaces."""
    return " ".join(_PUNCTUATION.sub(" ", fold(text)).split())


def _causes(details: Sequence[CaseDetail]) -> tuple[CauseGroup, ...]:
    first_text: dict[str, str] = {}
    found: dict[str, dict[str, Case]] = {}  # by number: a cause noted twice on one case counts once
    for detail in details:
        for action in detail.actions:
            key = cause_key(action.text) if action.kind == ActionKind.CAUSE else ""
            if key:
                first_text.setdefault(key, action.text.strip())
                found.setdefault(key, {})[detail.case.number] = detail.case
    groups = [CauseGroup(first_text[key], tuple(cases.values())) for key, cases in found.items()]
    return tuple(sorted(groups, key=lambda group: (-len(group.cases), cause_key(group.text))))


# --- the document ------------------------------------------------------------------------------------
# The report is built once as plain blocks, then written as HTML or Markdown: both say the same thing.


@dataclass(frozen=True)
class Paragraph:
    kind: ClassVar[str] = "paragraph"  # what a template tests to know how to write it
    text: str


@dataclass(frozen=True)
class Alert:
    kind: ClassVar[str] = "alert"  # what a template tests to know how to write it
    text: str


@dataclass(frozen=True)
class Bullets:
    kind: ClassVar[str] = "bullets"  # what a template tests to know how to write it
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    kind: ClassVar[str] = "table"  # what a template tests to know how to write it
    id: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int] = frozenset()  # columns aligned right
    title: str = ""
    empty: str = "Aucun."


@dataclass(frozen=True)
class Chart:
    kind: ClassVar[str] = "chart"  # what a template tests to know how to write it
    id: str
    title: str
    bars: tuple[tuple[str, float], ...]
    vertical: bool = False


Block = Paragraph | Alert | Bullets | Table | Chart


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    title: str
    subtitle: str
    sections: tuple[Section, ...]
    footer: str


def annual_report(
    details_this_year: Iterable[CaseDetail],
    details_previous_year: Iterable[CaseDetail],
    year: int,
    settings: Settings,
    last_review: date | None,
    fmt: str = "html",
    *,
    today: date | None = None,
    risks: Sequence[Risk] = (),
) -> str:
    """The report on `year`, compared with the year before, as an HTML page or Markdown (`fmt`).

    `last_review` is when the procedure was last reviewed (None when nobody recorded it); `today`
    (by default the organisation's current date) decides which deadlines and actions are overdue;
    `risks` are the year's analyses of quality risks recorded by `#risque`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
    today = today or datetime.now(settings.organisation.timezone).date()
    calendar = WorkingDayCalendar.for_country(
        settings.deadlines.holiday_country, settings.deadlines.holiday_subdivision, settings.deadlines.closures
    )
    tz = settings.organisation.timezone
    current = year_figures(details_this_year, year, tz, calendar, today)
    previous = year_figures(details_previous_year, year - 1, tz, calendar, today)
    document = _document(current, previous, settings, last_review, today, risks)
    return _render(document, fmt, template_dirs(settings))


def _document(
    figures: YearFigures,
    previous: YearFigures,
    settings: Settings,
    last_review: date | None,
    today: date,
    risks: Sequence[Risk] = (),
) -> Document:
    year = figures.year
    period = (
        f"Année en cours : données arrêtées au {_day(today)}."
        if today.year == year
        else f"Du 1er janvier au 31 décembre {year}."
    )
    return Document(
        title=f"Rapport annuel {year} — réclamations, difficultés et aléas",
        subtitle=f"{settings.organisation.name} · {period} Établi le {_long_day(today)}.",
        sections=(
            _indicators(settings),
            _summary(figures, settings),
            _volumes(figures),
            _deadlines(figures, settings),
            _extensions(figures),
            _satisfaction(figures),
            _causes_section(figures),
            _actions_section(figures, today),
            _evolution(figures, previous),
            _risks(risks, settings),
            _review(last_review, today),
            _improvements(figures, previous, last_review, today),
        ),
        footer=(
            "Sources : le tableau de suivi des réclamations tenu par inboxbot. Les dossiers classés sans suite "
            "sont comptés à part et exclus des autres chiffres. Délai d'accusé de réception en jours ouvrés "
            f"(du lundi au vendredi, hors jours fériés{_closures_said(settings)}), compté à partir du lendemain "
            "de la réception ; délai "
            "de réponse en jours calendaires ; dates dans le fuseau de l'organisme "
            f"({settings.organisation.timezone.key})."
        ),
    )


def _closures_said(settings: Settings) -> str:
    """The organisation's closures as the footer names them: they were not counted as working days."""
    closures = settings.deadlines.closures
    if not closures:
        return ""
    spans = [_day(first) if first == last else f"du {_day(first)} au {_day(last)}" for first, last in closures]
    return " et fermetures de l'organisme : " + ", ".join(spans)


def _summary(figures: YearFigures, settings: Settings) -> Section:
    kinds = figures.count(lambda case: case.kind)
    ack, response = figures.acknowledgement, figures.response
    closed = sum(1 for case in figures.cases if case.status == CaseStatus.CLOSED)
    rows = [
        ("Dossiers enregistrés (hors classés sans suite)", str(len(figures.cases))),
        *((f"dont {KIND_LABELS[kind]}s", str(kinds[kind])) for kind in KINDS),
        ("Dossiers classés sans suite", str(len(figures.dismissed))),
        ("Dossiers clôturés", str(closed)),
        ("Dossiers encore ouverts", str(len(figures.cases) - closed)),
        (
            f"Accusés de réception dans les délais ({settings.deadlines.acknowledge_working_days} jours ouvrés)",
            _ratio(ack.met, ack.decided),
        ),
        (
            f"Réponses dans les délais ({settings.deadlines.response_days} jours ou délai prolongé)",
            _ratio(response.met, response.decided),
        ),
        *(
            (f"Réponses dans les délais : {group.label}", _ratio(group.response.met, group.response.decided))
            for group in figures.per_kind
        ),
        ("Satisfaction moyenne (sur 5)", _mark(figures.average_mark)),
        ("Actions correctives, préventives et mesures d'urgence", str(len(figures.actions))),
    ]
    blocks: list[Block] = [Table("synthese", ("Indicateur", "Valeur"), tuple(rows), frozenset({1}))]
    if figures.dismissed:
        blocks.append(
            Table(
                "sans-suite",
                ("Dossier", "Reçu le", "Objet"),
                tuple((c.number, _day(c.received_at.date()), c.subject) for c in figures.dismissed),
                title="Dossiers classés sans suite",
            )
        )
    return Section("synthese-annuelle", "Synthèse", tuple(blocks))


def _ordered(counts: Counter[str | None], order: Sequence[str]) -> list[tuple[str | None, int]]:
    """The values counted, in the procedure's order, then any value outside it, then "non renseignée"."""
    keys: list[str | None] = [key for key in order if counts[key]]
    keys += sorted(key for key in counts if key is not None and key not in order)
    if counts[None]:
        keys.append(None)
    return [(key, counts[key]) for key in keys]


def _distribution(
    id_: str, title: str, header: str, counts: Counter[str | None], order: Sequence[str], label: Callable[[str], str]
) -> tuple[Chart, Table]:
    """A chart and the table of the same counts: the table is what an auditor recounts."""
    total = sum(counts.values())
    items = [(UNSET if key is None else label(key), count) for key, count in _ordered(counts, order)]
    chart = Chart(f"graphique-{id_}", f"Dossiers {title}", tuple((name, float(count)) for name, count in items))
    table = Table(
        id_,
        (header, "Dossiers", "Part"),
        tuple((name, str(count), _pct(count / total)) for name, count in items),
        frozenset({1, 2}),
        title=f"Dossiers {title}",
    )
    return chart, table


def _volumes(figures: YearFigures) -> Section:
    kinds = _distribution(
        "par-type", "par type", "Type", figures.count(lambda c: c.kind), KINDS, lambda k: KIND_LABELS.get(k, k)
    )
    natures = _distribution("par-nature", "par nature", "Nature", figures.count(lambda c: c.nature), NATURES, _nature)
    channels = _distribution(
        "par-canal",
        "par canal",
        "Canal",
        figures.count(lambda c: c.channel),
        CHANNELS,
        lambda c: CHANNEL_LABELS.get(c, c),
    )
    stakeholders = _distribution(
        "par-partie-prenante",
        "par partie prenante",
        "Partie prenante",
        figures.count(lambda c: c.stakeholder),
        STAKEHOLDERS,
        str,
    )
    months = figures.by_month
    by_month = Table(
        "par-mois",
        ("Mois", "Dossiers"),
        tuple((_month(m), str(months[m])) for m in range(1, 13)),
        frozenset({1}),
        title="Dossiers par mois de réception",
    )
    trainings = Counter(case.training.strip() for case in figures.cases if case.training.strip())
    by_training = Table(
        "par-formation",
        ("Formation", "Dossiers"),
        tuple(
            (name, str(count)) for name, count in sorted(trainings.items(), key=lambda i: (-i[1], i[0]))[:TOP_TRAININGS]
        ),
        frozenset({1}),
        title="Formations les plus concernées",
        empty="Aucune formation renseignée.",
    )
    return Section(
        "volumes",
        "Dossiers de l'année",
        (
            Paragraph(
                f"{_plural(len(figures.cases), 'dossier', 'dossiers')}, hors "
                f"{_plural(len(figures.dismissed), 'classé', 'classés')} sans suite."
            ),
            Chart(
                "graphique-mois",
                "Dossiers par mois de réception",
                tuple((_month(m), float(months[m])) for m in range(1, 13)),
                vertical=True,
            ),
            by_month,
            *kinds,
            *natures,
            channels[1],
            stakeholders[1],
            by_training,
        ),
    )


def _deadlines(figures: YearFigures, settings: Settings) -> Section:
    ack, response = figures.acknowledgement, figures.response

    def rows(figures_: DeadlineFigures) -> tuple[str, ...]:
        return (
            str(figures_.decided),
            str(figures_.met),
            str(len(figures_.missed)),
            str(figures_.pending),
            _pct(figures_.share),
            _number(figures_.median),
            _number(figures_.worst),
        )

    table = Table(
        "delais",
        (
            "Étape",
            "Dossiers comptés",
            "Dans les délais",
            "Hors délai",
            "En attente",
            "Part dans les délais",
            "Délai médian",
            "Délai maximal",
        ),
        (
            (
                f"Accusé de réception ({settings.deadlines.acknowledge_working_days} jours ouvrés ; "
                "délais en jours ouvrés)",
                *rows(ack),
            ),
            (
                f"Réponse ({settings.deadlines.response_days} jours, sauf prolongation ; délais en jours)",
                *rows(response),
            ),
        ),
        frozenset(range(1, 8)),
    )
    per_kind = Table(
        "delais-par-type",
        (
            "Type",
            "Étape",
            "Dossiers comptés",
            "Dans les délais",
            "Hors délai",
            "En attente",
            "Part dans les délais",
            "Délai médian",
            "Délai maximal",
        ),
        tuple(
            (group.label.capitalize(), step, *rows(step_figures))
            for group in figures.per_kind
            for step, step_figures in (("accusé de réception", group.acknowledgement), ("réponse", group.response))
        ),
        frozenset(range(2, 9)),
        title="Par type : les réclamations à part des aléas et difficultés",
    )
    late = [
        (c.number, "accusé de réception", _day(c.acknowledge_due), _when(c.acknowledged_at), c.subject)
        for c in ack.missed
    ] + [
        (c.number, "réponse", _day(c.effective_response_due), _when(c.responded_at), c.subject) for c in response.missed
    ]
    return Section(
        "delais-traitement",
        "Respect des délais",
        (
            table,
            per_kind,
            Paragraph(
                "Dossiers comptés : étape accomplie, ou échéance dépassée sans qu'elle le soit ; « en attente » : "
                "ni l'un ni l'autre. Les délais médian et maximal portent sur les étapes accomplies, dans les "
                "délais ou non."
            ),
            Table(
                "hors-delai",
                ("Dossier", "Étape", "Échéance", "Accomplie le", "Objet"),
                tuple(sorted(late)),
                title="Échéances manquées",
                empty="Aucune échéance manquée.",
            ),
        ),
    )


def _extensions(figures: YearFigures) -> Section:
    rows = tuple(
        (
            c.number,
            _day(c.response_due),
            _day(c.effective_response_due),
            str((c.effective_response_due - c.response_due).days),
            c.extension_reason or "motif non consigné",
        )
        for c in figures.extended
    )
    return Section(
        "prolongations",
        "Prolongations du délai de réponse",
        (
            Paragraph(
                f"{_plural(len(rows), 'prolongation', 'prolongations')} sur "
                f"{_plural(len(figures.cases), 'dossier', 'dossiers')}."
            ),
            Table(
                "prolongations",
                ("Dossier", "Réponse due le", "Prolongée jusqu'au", "Jours ajoutés", "Motif"),
                rows,
                frozenset({3}),
                empty="Aucune prolongation.",
            ),
        ),
    )


def _satisfaction(figures: YearFigures) -> Section:
    marks = Counter(figures.marks)
    answered = len(figures.marks)
    scale = [(f"{mark} / 5", marks[mark]) for mark in range(5, 0, -1)]
    distribution = Table(
        "satisfaction-repartition",
        ("Note", "Réponses", "Part"),
        tuple((name, str(count), _pct(count / answered if answered else None)) for name, count in scale),
        frozenset({1, 2}),
        title="Répartition des notes",
    )
    low = tuple(
        (c.number, str(c.satisfaction_mark), c.satisfaction_comment or "pas de commentaire")
        for c in figures.cases
        if c.satisfaction_mark is not None and c.satisfaction_mark <= LOW_MARK
    )
    return Section(
        "satisfaction",
        "Satisfaction des réclamants",
        (
            Table(
                "satisfaction",
                ("Indicateur", "Valeur"),
                (
                    ("Questionnaires envoyés", str(figures.feedback_requested)),
                    ("Notes reçues", str(answered)),
                    ("Note moyenne (sur 5)", _mark(figures.average_mark)),
                ),
                frozenset({1}),
            ),
            Chart("graphique-satisfaction", "Notes de satisfaction", tuple((name, float(n)) for name, n in scale)),
            distribution,
            Table(
                "satisfaction-basse",
                ("Dossier", "Note", "Commentaire"),
                low,
                frozenset({1}),
                title=f"Notes de {LOW_MARK} ou moins",
                empty=f"Aucune note de {LOW_MARK} ou moins.",
            ),
        ),
    )


def _causes_section(figures: YearFigures) -> Section:
    rows = tuple(
        (
            group.text,
            str(len(group.cases)),
            ", ".join(sorted({_nature(c.nature) for c in group.cases})),
            ", ".join(c.number for c in group.cases),
        )
        for group in figures.causes
    )
    per_nature: Counter[str | None] = Counter()
    cases_per_nature: dict[str | None, set[str]] = {}
    for group in figures.causes:
        for case in group.cases:
            per_nature[case.nature] += 1
            cases_per_nature.setdefault(case.nature, set()).add(case.number)
    by_nature = tuple(
        (_nature(nature), str(count), str(len(cases_per_nature[nature])))
        for nature, count in _ordered(per_nature, NATURES)
    )
    return Section(
        "causes",
        "Causes profondes",
        (
            Paragraph(
                "Causes relevées sur les dossiers (#cause), regroupées quand elles ne diffèrent que par les "
                "accents, les majuscules ou la ponctuation ; les plus fréquentes d'abord."
            ),
            Table(
                "causes",
                ("Cause", "Dossiers", "Nature", "Numéros"),
                rows,
                frozenset({1}),
                empty="Aucune cause consignée.",
            ),
            Table(
                "causes-par-nature",
                ("Nature", "Causes relevées", "Dossiers concernés"),
                by_nature,
                frozenset({1, 2}),
                title="Causes par nature du dysfonctionnement",
                empty="Aucune cause consignée.",
            ),
        ),
    )


def efficacy(action: Action, today: date) -> str:
    """Whether an action worked, as far as the register can tell: only a result written down proves it."""
    if action.status == ActionStatus.DONE:
        return "oui : résultat consigné" if action.result.strip() else "à vérifier : aucun résultat consigné"
    if action.status == ActionStatus.DROPPED:
        return "abandonnée"
    return "en retard" if action_overdue(action, today) else "en cours"


def _actions_section(figures: YearFigures, today: date) -> Section:
    summary = []
    for kind in TRACKED_KINDS:
        actions = [a for _c, a in figures.actions if a.kind == kind]
        statuses = Counter(a.status for a in actions)
        summary.append(
            (
                ACTION_LABELS[kind],
                str(len(actions)),
                *(str(statuses[s]) for s in ActionStatus),
                str(sum(1 for a in actions if action_overdue(a, today))),
                str(sum(1 for a in actions if a.status == ActionStatus.DONE and a.result.strip())),
            )
        )
    detail = tuple(
        (
            case.number,
            str(action.seq),
            action.kind.label,
            action.text,
            action.owner,
            _day(action.due),
            action.status.label if action.status else "",
            action.result,
            efficacy(action, today),
        )
        for case, action in figures.actions
    )
    return Section(
        "actions",
        "Actions correctives et préventives",
        (
            Table(
                "actions-synthese",
                ("Type", "Total", "À faire", "En cours", "Faites", "Abandonnées", "En retard", "Efficaces"),
                tuple(summary),
                frozenset(range(1, 8)),
            ),
            Paragraph(
                f"Médiations conduites : {figures.mediations}. Une action est comptée efficace quand elle est "
                "faite et que son résultat est consigné."
            ),
            Table(
                "actions-detail",
                ("Dossier", "N°", "Type", "Action", "Responsable", "Échéance", "Statut", "Résultat", "Efficacité"),
                detail,
                frozenset({1}),
                title="Détail des actions",
                empty="Aucune action corrective ou préventive.",
            ),
        ),
    )


def _evolution(figures: YearFigures, previous: YearFigures) -> Section:
    def kinds(f: YearFigures) -> Counter[str | None]:
        return f.count(lambda c: c.kind)

    now_kinds, before_kinds = kinds(figures), kinds(previous)
    has_before = bool(previous.cases or previous.dismissed)
    rows: list[tuple[str, str, str, str]] = [
        _count_row(
            "Dossiers enregistrés (hors classés sans suite)", len(previous.cases), len(figures.cases), has_before
        ),
        *(_count_row(f"dont {KIND_LABELS[k]}s", before_kinds[k], now_kinds[k], has_before) for k in KINDS),
        _count_row("Classés sans suite", len(previous.dismissed), len(figures.dismissed), has_before),
        _share_row(
            "Accusés de réception dans les délais", previous.acknowledgement.share, figures.acknowledgement.share
        ),
        _share_row("Réponses dans les délais", previous.response.share, figures.response.share),
        _value_row("Satisfaction moyenne (sur 5)", previous.average_mark, figures.average_mark),
        _count_row(
            "Actions correctives, préventives et d'urgence", len(previous.actions), len(figures.actions), has_before
        ),
    ]
    return Section(
        "evolution",
        f"Évolution par rapport à {previous.year}",
        (
            Table(
                "evolution",
                ("Indicateur", str(previous.year), str(figures.year), "Évolution"),
                tuple(rows),
                frozenset({1, 2, 3}),
            ),
        ),
    )


def _count_row(label: str, before: int, now: int, known: bool) -> tuple[str, str, str, str]:
    if not known:
        return (label, "—", str(now), "—")
    return (label, str(before), str(now), _signed(now - before))


def _share_row(label: str, before: float | None, now: float | None) -> tuple[str, str, str, str]:
    change = "—" if before is None or now is None else _signed((now - before) * 100, 1) + f"{NBSP}pts"
    return (label, _pct(before), _pct(now), change)


def _value_row(label: str, before: float | None, now: float | None) -> tuple[str, str, str, str]:
    change = "—" if before is None or now is None else _signed(now - before, 2)
    return (label, _mark(before), _mark(now), change)


def review_overdue(last_review: date | None, today: date) -> bool:
    """Whether the yearly review the procedure requires is missing or more than a year old."""
    if last_review is None:
        return True
    try:
        a_year_ago = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        a_year_ago = today.replace(year=today.year - 1, day=28)
    return last_review < a_year_ago


INDICATORS_FILE = "indicators.toml"


def indicators(settings: Settings) -> list[dict[str, Any]]:
    """The Qualiopi indicators the report answers, read from data: the organisation's own file, else the shipped one.

    The framework's numbers and wording change with its revisions; a file is updated without a release.
    """
    for directory in template_dirs(settings)[:-1]:
        own = directory / INDICATORS_FILE
        if own.is_file():
            return list(tomllib.loads(own.read_text(encoding="utf-8")).get("indicator", []))
    shipped_file = Path(__file__).with_name(INDICATORS_FILE)
    return list(tomllib.loads(shipped_file.read_text(encoding="utf-8")).get("indicator", []))


def _indicators(settings: Settings) -> Section:
    rows = tuple(
        (f"Indicateur {item['number']}", str(item["text"]), str(item.get("note", ""))) for item in indicators(settings)
    )
    return Section(
        "indicateurs",
        "Indicateurs du référentiel national qualité",
        (
            Paragraph(
                "Ce rapport rend compte de la mise en œuvre des indicateurs suivants (critère 7 du référentiel "
                "national qualité, Qualiopi)."
            ),
            Table("indicateurs-qualiopi", ("Indicateur", "Libellé", "Remarque"), rows),
        ),
    )


def _risks(risks: Sequence[Risk], settings: Settings) -> Section:
    """The analysis of quality risks: the organisation's own file, then what #risque recorded, dated."""
    blocks: list[Block] = []
    path = settings.report.risks_file
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            blocks.append(Alert(f"Le fichier d'analyse des risques {path.name} n'a pas pu être lu : {exc.strerror}."))
        else:
            paragraphs = [" ".join(part.split()) for part in re.split(r"\n\s*\n", text)]
            blocks.extend(Paragraph(part) for part in paragraphs if part)
    blocks.append(
        Table(
            "risques-enregistres",
            ("Date", "Analyse"),
            tuple((_day(risk.at.astimezone(settings.organisation.timezone).date()), risk.text) for risk in risks),
            title="Analyses enregistrées dans l'année (#risque)",
            empty="Aucune analyse de risque enregistrée dans l'année par #risque.",
        )
    )
    return Section("risques", "Analyse des risques qualité", tuple(blocks))


def _review(last_review: date | None, today: date) -> Section:
    blocks: list[Block] = []
    if last_review is None:
        blocks.append(Paragraph("Date de la dernière revue de la procédure : inconnue."))
    else:
        blocks.append(Paragraph(f"Dernière revue de la procédure : le {_long_day(last_review)}."))
    if review_overdue(last_review, today):
        reason = "aucune revue n'est enregistrée" if last_review is None else "la dernière date de plus d'un an"
        blocks.append(Alert(f"La procédure doit être revue annuellement : {reason}."))
    return Section("revue", "Revue de la procédure", tuple(blocks))


def _improvements(figures: YearFigures, previous: YearFigures, last_review: date | None, today: date) -> Section:
    """Short, factual leads drawn from the figures above, most pressing first."""
    items: list[str] = []
    total = len(figures.cases)
    ack, response = figures.acknowledgement, figures.response
    if total == 0:
        items.append(
            f"Aucun dossier enregistré en {figures.year} : vérifier que les parties prenantes connaissent les "
            "moyens de réclamer (e-mail, formulaire, oral) et que les aléas signalés par les formateurs sont saisis."
        )
    if ack.missed:
        items.append(
            f"Accusés de réception : {len(ack.missed)} hors délai sur {ack.decided} ({_numbers(ack.missed)}). "
            "Enregistrer chaque réclamation dès sa réception, y compris orale ou transmise par un tiers."
        )
    if response.missed:
        items.append(
            f"Réponses : {len(response.missed)} hors délai sur {response.decided} ({_numbers(response.missed)}). "
            "Prolonger le délai avec son motif (#prolonger) avant l'échéance et en informer le réclamant."
        )
    natures = figures.count(lambda c: c.nature)
    known = [(nature, count) for nature, count in _ordered(natures, NATURES) if nature is not None]
    if known:
        nature, count = max(known, key=lambda item: item[1])  # the first in the procedure's order on a tie
        items.append(
            f"Nature la plus fréquente : {_nature(nature)} ({count} dossiers sur {total}, {_pct(count / total)}). "
            "Y consacrer en priorité les actions préventives."
        )
    if natures[None]:
        items.append(f"{_plural(natures[None], 'dossier', 'dossiers')} sans nature renseignée (#nature).")
    for group in figures.causes:
        if len(group.cases) < 2:
            break
        items.append(
            f"Cause récurrente : « {group.text} » ({_numbers(group.cases)}). "
            "Vérifier l'efficacité des actions engagées."
        )
    closed_claims = [c for c in figures.cases if c.kind == Kind.RECLAMATION and c.status == CaseStatus.CLOSED]
    with_cause = {c.number for group in figures.causes for c in group.cases}
    without_cause = [c for c in closed_claims if c.number not in with_cause]
    if without_cause:
        items.append(
            f"{_plural(len(without_cause), 'réclamation clôturée', 'réclamations clôturées')} sans cause profonde "
            f"consignée ({_numbers(without_cause)})."
        )
    overdue = [(c, a) for c, a in figures.actions if action_overdue(a, today)]
    if overdue:
        items.append(
            f"{_plural(len(overdue), 'action en retard', 'actions en retard')} "
            f"({', '.join(f'{c.number} n° {a.seq}' for c, a in overdue)}) : relancer ou revoir l'échéance."
        )
    unproven = [(c, a) for c, a in figures.actions if a.status == ActionStatus.DONE and not a.result.strip()]
    if unproven:
        items.append(
            f"{_plural(len(unproven), 'action faite', 'actions faites')} sans résultat consigné "
            f"({', '.join(f'{c.number} n° {a.seq}' for c, a in unproven)}) : documenter le résultat obtenu."
        )
    if figures.feedback_requested and not figures.marks:
        items.append(
            f"Aucune note de satisfaction reçue pour {figures.feedback_requested} questionnaires envoyés : "
            "revoir la forme de la demande."
        )
    low = [c for c in figures.cases if c.satisfaction_mark is not None and c.satisfaction_mark <= LOW_MARK]
    if low:
        items.append(
            f"{_plural(len(low), 'note', 'notes')} de satisfaction de {LOW_MARK} ou moins ({_numbers(low)}) : "
            "en analyser les commentaires."
        )
    if (previous.cases or previous.dismissed) and len(figures.cases) > len(previous.cases):
        rise = len(figures.cases) - len(previous.cases)
        share = f" ({_signed(rise / len(previous.cases) * 100, 1)}{NBSP}%)" if previous.cases else ""
        items.append(f"Hausse des dossiers par rapport à {previous.year} : {_signed(rise)}{share}.")
    if review_overdue(last_review, today):
        items.append("La procédure doit être revue annuellement : planifier sa revue et en consigner la date.")
    if not items:
        items.append("Aucun écart relevé sur l'année au regard des indicateurs ci-dessus.")
    return Section("pistes", "Pistes d'amélioration", (Bullets(tuple(items)),))


# --- wording -----------------------------------------------------------------------------------------


def _number(value: float | None, decimals: int = 1) -> str:
    """A French decimal: "7,5", "12"; "—" when there is no value."""
    if value is None:
        return "—"
    text = f"{value:.{decimals}f}".replace(".", ",")
    return text.rstrip("0").rstrip(",") if "," in text else text


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{_number(share * 100)}{NBSP}%"


def _ratio(met: int, decided: int) -> str:
    return "—" if not decided else f"{met} / {decided} ({_pct(met / decided)})"


def _mark(value: float | None) -> str:
    return "—" if value is None else _number(value, 2)


def _signed(value: float, decimals: int = 0) -> str:
    text = _number(abs(value), decimals)
    return text if text == "0" else ("+" if value > 0 else "-") + text


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count <= 1 else many}"


def _day(value: date | None) -> str:
    return "" if value is None else f"{value:%d/%m/%Y}"


def _when(value: datetime | None) -> str:
    return "non accomplie" if value is None else _day(value.date())


def _long_day(value: date) -> str:
    return format_date(value, "d MMMM y", locale=LOCALE)


def _month(month: int) -> str:
    return format_date(date(2000, month, 1), "MMM", locale=LOCALE)


def _nature(nature: str | None) -> str:
    return UNSET if nature is None else NATURE_LABELS.get(nature, nature)


def _numbers(cases: Sequence[Case], limit: int = 10) -> str:
    """The cases' numbers for a sentence: the first few, so a lead stays one line long."""
    shown = ", ".join(c.number for c in cases[:limit])
    more = f" et {len(cases) - limit} autres" if len(cases) > limit else ""
    return ("dossier " if len(cases) == 1 else "dossiers ") + shown + more


# --- HTML --------------------------------------------------------------------------------------------


_BAR = "#2f6ea5"
_SVG_FONT = 'font-family="system-ui, Arial, sans-serif" font-size="12" fill="#1d232b"'


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _environment(directories: Sequence[Path]) -> jinja2.Environment:
    """The report's templates, the organisation's own first; HTML autoescaped, Markdown escaped by filters."""
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(d)) for d in directories]),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        keep_trailing_newline=True,
    )
    env.filters["svg"] = lambda chart: markupsafe.Markup(_svg(chart))
    env.filters["md"] = _m
    env.filters["md_line"] = _m_line
    env.filters["text_chart"] = _text_chart
    return env


def check_templates(settings: Settings) -> None:
    """Compile the report's templates now (`inboxbot check`), so a broken one is found before year end."""
    env = _environment(template_dirs(settings))
    for fmt in FORMATS:
        env.get_template(f"report.{fmt}.j2")


def _render(document: Document, fmt: str, directories: Sequence[Path]) -> str:
    return _environment(directories).get_template(f"report.{fmt}.j2").render(document=document)


def _svg(chart: Chart) -> str:
    """A bar chart drawn here as SVG: no library, no script, nothing fetched when the page opens."""
    values = [value for _label, value in chart.bars]
    top = max(values, default=0) or 1
    shapes: list[str] = []
    if chart.vertical:
        width, height, left, bottom, head = 640, 230, 10, 28, 22
        slot = (width - 2 * left) / max(len(chart.bars), 1)
        scale = (height - bottom - head) / top
        for index, (label, value) in enumerate(chart.bars):
            x = left + index * slot
            bar = value * scale
            y = height - bottom - bar
            shapes.append(
                f'<rect x="{x + slot * 0.18:.1f}" y="{y:.1f}" width="{slot * 0.64:.1f}" '
                f'height="{bar:.1f}" fill="{_BAR}"/>'
            )
            shapes.append(
                f'<text x="{x + slot / 2:.1f}" y="{y - 5:.1f}" text-anchor="middle">{_e(_number(value))}</text>'
            )
            shapes.append(f'<text x="{x + slot / 2:.1f}" y="{height - 10}" text-anchor="middle">{_e(label)}</text>')
        shapes.append(
            f'<line x1="{left}" y1="{height - bottom}" x2="{width - left}" y2="{height - bottom}" stroke="#8a96a3"/>'
        )
    else:
        row, label_width, right = 26, 170, 50
        width = 640
        height = max(len(chart.bars), 1) * row + 8
        scale = (width - label_width - right) / top
        for index, (label, value) in enumerate(chart.bars):
            y = 4 + index * row
            bar = value * scale
            shapes.append(f'<text x="{label_width - 8}" y="{y + 17}" text-anchor="end">{_e(label)}</text>')
            shapes.append(f'<rect x="{label_width}" y="{y + 4}" width="{bar:.1f}" height="{row - 8}" fill="{_BAR}"/>')
            shapes.append(f'<text x="{label_width + bar + 6:.1f}" y="{y + 17}">{_e(_number(value))}</text>')
    return (
        f'<figure id="{_e(chart.id)}">\n'
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" {_SVG_FONT} '
        f'aria-label="{_e(chart.title)}">\n<title>{_e(chart.title)}</title>\n'
        + "\n".join(shapes)
        + f"\n</svg>\n<figcaption>{_e(chart.title)}</figcaption>\n</figure>"
    )


# --- Markdown ----------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~])")
_MD_LINE_START = ("#", ">", "-", "+", "=")
_MD_SPACES = re.compile(r"[^\S\u00a0]+")  # line breaks and runs of spaces; no-break spaces stay


def _m(text: str) -> str:
    """Text as Markdown shows it literally: on one line, with markup and HTML characters escaped."""
    return _MD_SPECIAL.sub(r"\\\1", _MD_SPACES.sub(" ", text).strip())


def _m_line(text: str) -> str:
    """`_m` for text that opens a line, where "#", ">" or "-" would start a heading, a quote or a list."""
    escaped = _m(text)
    return "\\" + escaped if escaped.startswith(_MD_LINE_START) else escaped


def _text_chart(chart: Chart) -> str:
    """The chart as text bars in a code block, readable in any Markdown viewer."""
    top = max((value for _label, value in chart.bars), default=0) or 1
    width = max((len(label) for label, _value in chart.bars), default=0)
    lines = [
        f"{label.replace('`', '').ljust(width)} │{'█' * round(value / top * 30)} {_number(value)}"
        for label, value in chart.bars
    ]
    return f"{_m_line(chart.title)}\n\n```text\n" + "\n".join(lines) + "\n```"
