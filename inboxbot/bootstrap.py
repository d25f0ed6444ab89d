"""The one place that builds the program's parts from the settings.

Everything else receives its clock, calendar, store, rules and templates from here, which is what
lets tests pin the date and point the program at throw-away servers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from inboxbot.adapters.archive import Archive
from inboxbot.config import Settings, shipped
from inboxbot.domain.deadlines import DuePolicy, WorkingDayCalendar
from inboxbot.domain.decide import Policy
from inboxbot.domain.rules import RuleSet, load_rules
from inboxbot.store.repository import Store

if TYPE_CHECKING:
    from inboxbot.adapters.imap import Mailbox
    from inboxbot.outgoing.outbox import SmtpSender
    from inboxbot.outgoing.render import Renderer
    from inboxbot.reading.recognition import Recognizer

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


__all__ = ["App", "build", "build_renderer", "shipped", "system_clock"]


@dataclass
class App:
    settings: Settings
    store: Store
    archive: Archive
    rules: RuleSet
    policy: Policy
    clock: Clock
    # Built at start-up by the commands that send mail (so a broken template stops them there), on
    # first use by the others: `cases show` needs no Jinja2.
    _renderer: Renderer | None = None
    # Shared mode reads every human mail no rule settled with it (None in dedicated mode); loaded
    # at start-up with the templates, on first use otherwise.
    _recognizer: Recognizer | None = None
    _recognizer_loaded: bool = False

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
        from inboxbot.outgoing.outbox import SmtpSender

        return SmtpSender(self.settings.smtp)

    def close(self) -> None:
        self.store.close()


def load_rule_set(settings: Settings) -> RuleSet:
    dirs = [shipped("rules")]
    if settings.rules_dir is not None:
        dirs.append(settings.rules_dir)
    return load_rules(dirs)


def load_recognizer(settings: Settings) -> Recognizer:
    """The vocabulary that reads claims and incidents in mail: the shipped one, or the user's copy of it."""
    from inboxbot.reading.recognition import load_recognition

    dirs = [shipped("rules")]
    if settings.rules_dir is not None:
        dirs.append(settings.rules_dir)
    return load_recognition(dirs, settings.organisation.name, settings.imap.open_on_words)


def build_renderer(settings: Settings, check: bool = True) -> Renderer:
    from inboxbot.outgoing.render import MAIL_TEMPLATES, Renderer

    dirs = [shipped("templates")]
    if settings.templates_dir is not None:
        dirs.insert(0, settings.templates_dir)
    renderer = Renderer(dirs, settings.organisation.timezone)
    if check:
        renderer.check(MAIL_TEMPLATES)
    return renderer


def build(
    settings: Settings,
    clock: Clock = system_clock,
    calendar: WorkingDayCalendar | None = None,
    *,
    check_templates: bool = True,
) -> App:
    """Every part, validated: a bad rule file or template stops here, before any mail is touched.

    `check_templates=False` is for a command that sends nothing and renders one template it names
    (`digest --print`): compiling all of them first was a tenth of its start-up.
    """
    rules = load_rule_set(settings)
    renderer = build_renderer(settings) if check_templates else None
    # Only a shared mailbox reads mail for claims; a dedicated one takes every human mail as one.
    # A broken vocabulary stops the commands that read mail here, like a broken template.
    shared = settings.imap.mode == "shared"
    recognizer = load_recognizer(settings) if check_templates and shared else None
    calendar = calendar or WorkingDayCalendar.for_country(
        settings.deadlines.holiday_country, settings.deadlines.holiday_subdivision, settings.deadlines.closures
    )
    policy = Policy(
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
    store = Store.open(settings.database.url)
    return App(
        settings=settings,
        store=store,
        archive=Archive(settings.storage.archive_dir),
        rules=rules,
        policy=policy,
        clock=clock,
        _renderer=renderer,
        _recognizer=recognizer,
        _recognizer_loaded=check_templates,
    )
