"""Every mail inboxbot writes: rendered from a template, composed once, queued in the outbox.

To a claimant, a mail is threaded under the case's latest message, so it lands in the same
conversation in their client; to the director, it carries `[inboxbot]` so she can sort it.
Queueing happens inside the caller's transaction: the mail exists if and only if what caused it
was recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from inboxbot.config import Settings
from inboxbot.domain.cases import Case
from inboxbot.domain.conversation import case_tag
from inboxbot.domain.message import Address
from inboxbot.domain.text import clamp
from inboxbot.outgoing.outbox import MailAttachment, UnsafeHeader, compose, new_message_id
from inboxbot.outgoing.render import CaseView, PersonView, Renderer, case_view
from inboxbot.store.repository import OutgoingDraft, Unit

log = logging.getLogger(__name__)

# Shown to the director (digest, case history) before the technical reason.
IMPOSSIBLE = "adresse inutilisable pour un envoi automatique"

# What a stranger chose (a subject, a display name) is repeated in our mail only this long: enough
# to recognise one's own message, too short to turn the organisation's address into a carrier for
# someone else's text (the register keeps the whole subject).
ECHOED_SUBJECT_CHARS = 120
ECHOED_NAME_CHARS = 80


def view_of(case: Case, label: str) -> CaseView:
    return case_view(
        number=case.number,
        tag=case_tag(label, case.number),
        kind=case.kind,
        subject=clamp(case.subject, ECHOED_SUBJECT_CHARS),
        received_at=case.received_at,
        acknowledge_due=case.acknowledge_due,
        response_due=case.response_due,
        effective_response_due=case.effective_response_due,
        extension_reason=case.extension_reason,
        channel=case.channel,
    )


class Letters:
    def __init__(self, settings: Settings, renderer: Renderer | Callable[[], Renderer]) -> None:
        """`renderer`, or how to get it at the first letter: an idle cycle writes none and builds no Jinja2."""
        self.settings = settings
        self._renderer = renderer
        self.sender = Address(settings.smtp.from_address, settings.smtp.from_name)

    @property
    def renderer(self) -> Renderer:
        if callable(self._renderer):
            self._renderer = self._renderer()
        return self._renderer

    def _queue(
        self,
        unit: Unit,
        *,
        template: str,
        recipient: Address,
        context: Mapping[str, Any],
        now: datetime,
        case_id: int | None,
        in_reply_to: str | None = None,
        references: Sequence[str] = (),
        attachments: Sequence[MailAttachment] = (),
        auto_submitted: str = "auto-replied",
    ) -> str:
        rendered = self.renderer.mail(
            template, organisation=self.settings.organisation, mediator=self.settings.mediator, **context
        )
        message_id = new_message_id(self.settings.smtp.from_address)
        draft = OutgoingDraft(
            message_id=message_id,
            case_id=case_id,
            purpose=template,
            recipient=recipient.email,
            subject=rendered.subject,
            raw=b"",
            text=rendered.text,
        )
        try:
            raw = compose(
                sender=self.sender,
                recipient=recipient,
                rendered=rendered,
                message_id=message_id,
                date=now,
                in_reply_to=in_reply_to,
                references=references,
                attachments=attachments,
                auto_submitted=auto_submitted,
            )
        except UnsafeHeader as exc:
            # An address no mail can carry: what caused this mail (a case, a closure) stands, and
            # the mail is recorded as impossible, for her to write from her own client.
            log.warning("%s to %r cannot be sent: %s", template, recipient.email, exc)
            unit.queue_impossible(draft, f"{IMPOSSIBLE}: {exc}", now)
            return message_id
        unit.queue(replace(draft, raw=raw), now)
        return message_id

    def to_claimant(
        self,
        unit: Unit,
        case: Case,
        template: str,
        now: datetime,
        in_reply_to: str | None = None,
        references: Sequence[str] | None = None,
        **context: Any,
    ) -> str | None:
        """Queue `template` to the case's claimant; None if there is no address.

        Threaded under `in_reply_to` when `references` is given, else under the case's latest mail.
        """
        if case.claimant is None:
            return None
        if references is None:
            references = unit.thread_ids(case.id)
            in_reply_to = references[-1] if references else None
        name = clamp(case.claimant_name, ECHOED_NAME_CHARS)
        return self._queue(
            unit,
            template=template,
            recipient=Address(case.claimant, name),
            context={
                "case": view_of(case, self.settings.organisation.case_label),
                "claimant": PersonView(email=case.claimant, name=name),
                **context,
            },
            now=now,
            case_id=case.id,
            in_reply_to=in_reply_to,
            references=references,
            auto_submitted="auto-replied" if template.endswith("acknowledgement") else "auto-generated",
        )

    def to_transmitter(
        self,
        unit: Unit,
        case: Case,
        template: str,
        transmitter: Address,
        now: datetime,
        in_reply_to: str | None = None,
        references: Sequence[str] = (),
    ) -> str:
        """Queue `template` to whoever passed the case's claim on, under their own mail.

        It names the case and the person acknowledged, never what the claim said: the claimant's
        words are not the transmitter's to receive again.
        """
        name = clamp(transmitter.name, ECHOED_NAME_CHARS)
        return self._queue(
            unit,
            template=template,
            recipient=Address(transmitter.email, name),
            context={
                "case": view_of(case, self.settings.organisation.case_label),
                "transmitter": PersonView(email=transmitter.email, name=name),
                "claimant": PersonView(email=case.claimant or "", name=clamp(case.claimant_name, ECHOED_NAME_CHARS)),
            },
            now=now,
            case_id=case.id,
            in_reply_to=in_reply_to,
            references=references,
            auto_submitted="auto-replied",
        )

    def to_director(
        self,
        unit: Unit,
        template: str,
        now: datetime,
        case: Case | None = None,
        attachments: Sequence[MailAttachment] = (),
        in_reply_to: str | None = None,
        **context: Any,
    ) -> str:
        """Queue `template` to the director (her first address)."""
        return self._queue(
            unit,
            template=template,
            recipient=Address(self.settings.director.addresses[0]),
            context={
                "case": view_of(case, self.settings.organisation.case_label) if case else None,
                **context,
            },
            now=now,
            case_id=None,
            in_reply_to=in_reply_to,
            references=[in_reply_to] if in_reply_to else [],
            attachments=attachments,
            auto_submitted="auto-generated",
        )
