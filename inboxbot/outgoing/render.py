"""Jinja2 templates for every mail a claimant or the director reads, and the values they receive.

Each mail is three templates, `NAME.subject.j2`, `NAME.txt.j2` and `NAME.html.j2`, looked up first
in the user's own templates directory and then in the shipped defaults, file by file, so a user can
rewrite one acknowledgement without copying the rest. Undefined variables are errors (a typo in a
template must not send "Bonjour ," to a claimant) and HTML is autoescaped, since claimant text ends
up in it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from inboxbot.domain.vocabulary import Channel, Kind

if TYPE_CHECKING:
    import jinja2


@dataclass(frozen=True)
class CaseView:
    """What a template may say about a case."""

    number: str
    tag: str
    kind: Kind
    kind_label: str
    subject: str
    received_at: datetime
    acknowledge_due: date
    response_due: date
    effective_response_due: date
    extension_reason: str
    channel: Channel = Channel.EMAIL  # how it reached the organisation: the claimant is told « reçue par courrier »
    title: str = ""  # the subject without its leading tags ([ALÉA], [ORAL]…): ours say it already
    noun: str = "réclamation"  # what the claimant made: a « réclamation », or a « signalement » for an incident
    feminine: bool = True  # for the agreement of what is said of `noun` (« clôturée », « clos »)


# Leading bracketed tags of a subject ("[ALÉA] ", "[Dossier 2026-0001] "), each short: bounded, linear.
_LEADING_TAGS = re.compile(r"\s*(?:\[[^\[\]]{0,40}\]\s*)+")


def title_of(subject: str) -> str:
    """`subject` without the tags people put at its start, which our own subjects would repeat."""
    match = _LEADING_TAGS.match(subject)
    return (subject[match.end() :] if match else subject).strip() or subject.strip()


@dataclass(frozen=True)
class PersonView:
    email: str
    name: str


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def case_view(
    *,
    number: str,
    tag: str,
    kind: Kind,
    subject: str,
    received_at: datetime,
    acknowledge_due: date,
    response_due: date,
    effective_response_due: date | None = None,
    extension_reason: str = "",
    channel: Channel = Channel.EMAIL,
) -> CaseView:
    incident = kind != Kind.RECLAMATION
    return CaseView(
        number=number,
        tag=tag,
        kind=kind,
        kind_label=kind.label,
        subject=subject,
        received_at=received_at,
        acknowledge_due=acknowledge_due,
        response_due=response_due,
        effective_response_due=effective_response_due or response_due,
        extension_reason=extension_reason,
        channel=channel,
        title=title_of(subject),
        noun="signalement" if incident else "réclamation",
        feminine=not incident,
    )


class Renderer:
    def __init__(self, directories: Sequence[Path], timezone: ZoneInfo, locale: str = "fr_FR") -> None:
        """`directories` in priority order, highest first (the user's, then the shipped ones).

        Jinja2 and babel are imported here, not with the module: the mail's values (`CaseView`) are
        built by an idle cycle too, which renders nothing."""
        import jinja2

        self.timezone = timezone
        self.locale = locale
        self.env: jinja2.Environment = jinja2.Environment(
            loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(d)) for d in directories]),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
            keep_trailing_newline=True,
            # Compiling the templates is a fifth of a short command's start-up; Jinja2 keeps the
            # compiled code in a private per-user folder under the temporary directory, keyed by
            # each template's source, so an edited template is compiled again.
            bytecode_cache=jinja2.FileSystemBytecodeCache(),
        )
        self.env.filters["date_fr"] = self._date
        self.env.filters["datetime_fr"] = self._datetime
        self.env.filters["when_fr"] = self._when

    def _date(self, value: date, style: str = "full") -> str:
        from babel.dates import format_date

        return format_date(value, format=style, locale=self.locale)

    def _datetime(self, value: datetime) -> str:
        from babel.dates import format_datetime

        return format_datetime(value, "d MMMM y 'à' HH:mm", tzinfo=self.timezone, locale=self.locale)

    def _when(self, value: datetime) -> str:
        """« 20 novembre 2026 à 14:30 », or the day alone when only the day is known (recorded at 00:00)."""
        local = value.astimezone(self.timezone)
        if (local.hour, local.minute, local.second) == (0, 0, 0):
            return self._date(local.date(), "d MMMM y")
        return self._datetime(value)

    def mail(self, name: str, **context: Any) -> RenderedMail:
        subject = self.env.get_template(f"{name}.subject.j2").render(**context)
        return RenderedMail(
            # A subject is one line, whatever the template or the claimant's text put in it.
            subject=" ".join(subject.split()),
            text=self.env.get_template(f"{name}.txt.j2").render(**context),
            html=self.env.get_template(f"{name}.html.j2").render(**context),
        )

    def check(self, names: Sequence[str]) -> None:
        """Compile every template of `names` now, so a broken one stops start-up, not a send."""
        for name in names:
            for part in ("subject", "txt", "html"):
                self.env.get_template(f"{name}.{part}.j2")


MAIL_TEMPLATES = (
    "acknowledgement",
    "incident_acknowledgement",
    "extension_notice",
    "extension_change",
    "urgent_alert",
    "satisfaction_request",
    "closure_notice",
    "dismissal_notice",
    "transmitter_thanks",
    "command_report",
    "closed_case_notice",
    "suspicious_notice",
    "register_export",
    "case_record",
    "review_reminder",
    "outage_notice",
    "report_export",
    "digest",
)
