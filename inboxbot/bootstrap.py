"""The one place that builds the program's parts from the settings.

Everything else receives its clock, calendar, store, rules and templates from here, which is what
lets tests pin the date and point the program at throw-away servers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import inboxbot
from inboxbot.adapters.checked import (
    CheckedSources,
    default_folder,
    fingerprint,
    module_source,
    own_source,
    source_files,
)
from inboxbot.config import Settings, shipped, template_dirs
from inboxbot.domain.deadlines import DuePolicy, WorkingDayCalendar
from inboxbot.domain.rules import RuleSet, load_rules
from inboxbot.store.repository import Store

if TYPE_CHECKING:
    from inboxbot.adapters.archive import Archive
    from inboxbot.adapters.imap import Mailbox
    from inboxbot.domain.decide import Policy
    from inboxbot.outgoing.render import Renderer
    from inboxbot.outgoing.smtp import SmtpSender
    from inboxbot.reading.recognition import Recognizer

Clock = Callable[[], datetime]
T = TypeVar("T")


def system_clock() -> datetime:
    return datetime.now(UTC)


__all__ = ["App", "build", "build_renderer", "shipped", "system_clock"]


@dataclass
class App:
    settings: Settings
    store: Store
    rules: RuleSet
    clock: Clock
    calendar: WorkingDayCalendar
    # The policy and the archive are built at first use: `cases show` and the exports need neither
    # the decisions' module nor the archive's.
    _policy: Policy | None = None
    _archive: Archive | None = None
    # Built at start-up by the commands that send mail (so a broken template stops them there), on
    # first use by the others: `cases show` needs no Jinja2.
    _renderer: Renderer | None = None
    # Shared mode reads every human mail no rule settled with it (None in dedicated mode); loaded
    # at start-up with the templates, on first use otherwise.
    _recognizer: Recognizer | None = None
    _recognizer_loaded: bool = False

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            self._policy = build_policy(self.settings, self.calendar)
        return self._policy

    @property
    def archive(self) -> Archive:
        if self._archive is None:
            from inboxbot.adapters.archive import Archive

            self._archive = Archive(self.settings.storage.archive_dir)
        return self._archive

    @property
    def renderer(self) -> Renderer:
        if self._renderer is None:
            self._renderer = build_renderer(self.settings, check=False)
        return self._renderer

    @property
    def recognizer(self) -> Recognizer | None:
        if not self._recognizer_loaded:
            self._recognizer = load_recognizer(self.settings) if self.settings.imap.mode == "shared" else None
            self._recognizer_loaded = True
        return self._recognizer

    # The mailbox (imapclient) and the sender (aiosmtplib) are imported by the commands that use them
    # only: `digest --print`, `report` and the exports start faster without them.
    def mailbox(self) -> Mailbox:
        from inboxbot.adapters.imap import Mailbox

        return Mailbox(self.settings.imap)

    def sender(self) -> SmtpSender:
        from inboxbot.outgoing.smtp import SmtpSender

        return SmtpSender(self.settings.smtp)

    def close(self) -> None:
        self.store.close()


def rule_dirs(settings: Settings) -> list[Path]:
    """Where rules and the vocabulary are looked up, lowest priority first: shipped, then the organisation's."""
    dirs = [shipped("rules")]
    if settings.rules_dir is not None:
        dirs.append(settings.rules_dir)
    return dirs


def load_rule_set(settings: Settings) -> RuleSet:
    return load_rules(rule_dirs(settings))


def load_recognizer(settings: Settings) -> Recognizer:
    """The vocabulary that reads claims and incidents in mail: the shipped one, or the user's copy of it."""
    from inboxbot.reading.recognition import load_recognition

    return load_recognition(rule_dirs(settings), settings.organisation.name, settings.imap.open_on_words)


def build_policy(settings: Settings, calendar: WorkingDayCalendar) -> Policy:
    from inboxbot.domain.decide import Policy

    return Policy(
        mode=settings.imap.mode,
        acknowledge=settings.acknowledgement.enabled,
        daily_cap_per_sender=settings.acknowledgement.daily_cap_per_sender,
        daily_cap_total=settings.acknowledgement.daily_cap_total,
        due=DuePolicy(
            calendar=calendar,
            timezone=settings.organisation.timezone,
            acknowledge_working_days=settings.deadlines.acknowledge_working_days,
            response_days=settings.deadlines.response_days,
        ),
        own_addresses=frozenset({*settings.director.addresses, settings.smtp.from_address}),
    )


def build_renderer(settings: Settings, check: bool = True) -> Renderer:
    from inboxbot.outgoing.render import MAIL_TEMPLATES, Renderer

    renderer = Renderer(template_dirs(settings), settings.organisation.timezone)
    if check:
        renderer.check(MAIL_TEMPLATES)
    return renderer


# What compiling the templates or the vocabulary depends on, besides their files: a mark made by
# another version of the code or of Jinja2 is not one.
def _templates_key(settings: Settings) -> str:
    code: list[bytes | str] = [inboxbot.__version__, own_source("outgoing/render.py"), module_source("jinja2")]
    return fingerprint(["templates", *code, *source_files(template_dirs(settings), "*.j2")])


def _vocabulary_key(settings: Settings) -> str:
    code: list[bytes | str] = [
        inboxbot.__version__,
        own_source("reading/recognition.py"),
        own_source("reading/learned.py"),
        settings.organisation.name,
        str(settings.imap.open_on_words),
    ]
    return fingerprint(["vocabulary", *code, *source_files([d / "recognition" for d in rule_dirs(settings)], "*")])


def _unless_checked(key: Callable[[], str], marks: CheckedSources, compile_now: Callable[[], T]) -> T | None:
    """Compiled now (a broken file raises here), or None when these very sources were compiled before.

    The key is taken again after compiling: a file edited meanwhile is not marked as checked.
    """
    before = key()
    if marks.has(before):
        return None
    compiled = compile_now()
    if key() == before:
        marks.add(before)
    return compiled


def build(
    settings: Settings,
    clock: Clock = system_clock,
    calendar: WorkingDayCalendar | None = None,
    *,
    check_templates: bool = True,
    checked: CheckedSources | None = None,
) -> App:
    """Every part, validated: a bad rule file or template stops here, before any mail is touched.

    `check_templates=False` is for a command that sends nothing and renders one template it names
    (`digest --print`): compiling all of them first was a tenth of its start-up. Templates and a
    vocabulary found marked in `checked` (this user's marks by default) as compiled before, byte
    for byte, are compiled at first use instead: most starts of `run` find them so.
    """
    rules = load_rule_set(settings)
    marks = checked if checked is not None else CheckedSources(default_folder())
    renderer: Renderer | None = None
    recognizer: Recognizer | None = None
    shared = settings.imap.mode == "shared"
    if check_templates:
        renderer = _unless_checked(lambda: _templates_key(settings), marks, lambda: build_renderer(settings))
        # Only a shared mailbox reads mail for claims; a dedicated one takes every human mail as one.
        # A broken vocabulary stops the commands that read mail here, like a broken template.
        if shared:
            recognizer = _unless_checked(lambda: _vocabulary_key(settings), marks, lambda: load_recognizer(settings))
    calendar = calendar or WorkingDayCalendar.for_country(
        settings.deadlines.holiday_country, settings.deadlines.holiday_subdivision, settings.deadlines.closures
    )
    store = Store.open(settings.database.url)  # start-up ends there (see the collector's module)
    return App(
        settings=settings,
        store=store,
        rules=rules,
        clock=clock,
        calendar=calendar,
        _renderer=renderer,
        _recognizer=recognizer,
        _recognizer_loaded=check_templates and (recognizer is not None or not shared),
    )
