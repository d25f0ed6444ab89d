"""Every mail inboxbot writes: rendered from a template, composed once, queued in the outbox.

To a claimant, a mail is threaded under the case's latest message, so it lands in the same
conversation in their client; to the director, it carries `[inboxbot]` so she can sort it.
Queueing happens inside the caller's transaction: the mail exists if and only if what caused it
was recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from inboxbot.config import Settings
from inboxbot.domain.cases import Case
from inboxbot.domain.conversation import case_tag
from inboxbot.domain.message import Address
from inboxbot.outgoing.outbox import MailAttachment, compose, new_message_id
from inboxbot.outgoing.render import CaseView, PersonView, Renderer, case_view
from inboxbot.store.repository import OutgoingDraft, Unit


def view_of(case: Case, label: str) -> CaseView:
    return case_view(
        number=case.number,
        tag=case_tag(label, case.number),
        kind=case.kind,
        subject=case.subject,
        received_at=case.received_at,
        acknowledge_due=case.acknowledge_due,
        response_due=case.response_due,
        effective_response_due=case.effective_response_due,
        extension_reason=case.extension_reason,
        channel=case.channel,
    )


class Letters:
    def __init__(self, settings: Settings, renderer: Renderer) -> None:
        self.settings = settings
        self.renderer = renderer
        self.sender = Address(settings.smtp.from_address, settings.smtp.from_name)

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
        unit.queue(
            OutgoingDraft(
                message_id=message_id,
                case_id=case_id,
                purpose=template,
                recipient=recipient.email,
                subject=rendered.subject,
                raw=raw,
            ),
            now,
        )
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
        return self._queue(
            unit,
            template=template,
            recipient=Address(case.claimant, case.claimant_name),
            context={
                "case": view_of(case, self.settings.organisation.case_label),
                "claimant": PersonView(email=case.claimant, name=case.claimant_name),
                **context,
            },
            now=now,
            case_id=case.id,
            in_reply_to=in_reply_to,
            references=references,
            auto_submitted="auto-replied" if template.endswith("acknowledgement") else "auto-generated",
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
