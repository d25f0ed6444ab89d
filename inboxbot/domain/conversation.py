"""Which case, if any, a mail continues.

Message-IDs first: a reply's In-Reply-To and References name mails the case already knows (the
claimant's own and our acknowledgements), which no client rewrites. The case tag in the subject is
only a fallback, for clients that drop those headers, and only when the sender already takes part
in the case: a tag is text anyone can type.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from inboxbot.domain.cases import CaseRef
from inboxbot.domain.message import ParsedMail

# "RE :", "Re:", "TR :", "Fwd:", "Réf. :", "AW:", "RE[2]:" — with any spaces (no-break ones too,
# as French typography puts one before the colon), repeated.
_PREFIX = re.compile(
    r"^(?:\s*(?:re|r[ée]f\.?|tr|fwd?|aw|wg|sv|vs|antw|rif|rv|enc)\s*(?:\[\d+\])?\s*:)+\s*",
    re.IGNORECASE,
)
CASE_NUMBER = r"\d{4}-\d{4,6}"
"""A case number as pattern text: the year, a dash, the number (every pattern that finds one uses it)."""
# A tag as our subjects carry it and clients keep it: « [Dossier 2026-0001] », « [#2026-0001] »; the
# label before the number is whatever the organisation chose, in brackets, without digits.
TAG_OPENING = r"\[[^\[\]\d]{0,40}?#?\s*"
TAG_CLOSING = r"\s*\]"
_TAG = re.compile(f"{TAG_OPENING}({CASE_NUMBER}){TAG_CLOSING}")


def case_tag(label: str, number: str) -> str:
    """The tag put in the subject of every mail we send about a case, e.g. `[Dossier 2026-0001]`."""
    return f"[{label} {number}]" if label else f"[{number}]"


def tagged_numbers(subject: str) -> tuple[str, ...]:
    """Case numbers named by tags in `subject`, in order of appearance."""
    return tuple(dict.fromkeys(match.group(1) for match in _TAG.finditer(subject)))


def strip_reply_prefixes(subject: str) -> str:
    """The subject without its reply and forward prefixes."""
    return _PREFIX.sub("", subject).strip()


def base_subject(subject: str) -> str:
    """The subject without prefixes or case tags: what the claimant originally wrote."""
    stripped = strip_reply_prefixes(_TAG.sub(" ", subject))
    return strip_reply_prefixes(" ".join(stripped.split()))


class ThreadLookup(Protocol):
    def case_for_message_ids(self, message_ids: Sequence[str]) -> CaseRef | None: ...

    def case_by_number(self, number: str) -> CaseRef | None: ...


@dataclass(frozen=True)
class ThreadMatch:
    case: CaseRef
    via: str  # "references" or "tag"
    sender_participates: bool


def find_thread(
    mail: ParsedMail,
    lookup: ThreadLookup,
    trusted_senders: Collection[str] = (),
    extra_message_ids: Sequence[str] = (),
    unproven: bool = False,
    named_numbers: Sequence[str] = (),
) -> ThreadMatch | None:
    """The case `mail` continues, or None if it starts something new.

    `trusted_senders` (the director, once proven) may name any case by its tag; `extra_message_ids`
    are ids the mail refers to outside its threading headers, such as the original of a bounce.
    `unproven`: its From is not to be believed (the director's address on a mail nothing proves
    hers), so the sender takes part in no case, though her address is found in every case she
    answered.
    `named_numbers`: case numbers the subject names in words (« dossier n° 2026-0002 »), which
    only a trusted sender's mail is filed by.
    """
    sender = None if unproven else (mail.from_.email if mail.from_ else None)
    ids = tuple(dict.fromkeys((*mail.thread_ids, *extra_message_ids)))
    case = lookup.case_for_message_ids(ids)
    if case is not None:
        return ThreadMatch(case, "references", _participates(sender, case, trusted_senders))
    for number in tagged_numbers(mail.subject):
        case = lookup.case_by_number(number)
        if case is not None and _participates(sender, case, trusted_senders):
            return ThreadMatch(case, "tag", True)
    if sender is not None and sender in trusted_senders:
        for number in named_numbers:
            case = lookup.case_by_number(number)
            if case is not None:
                return ThreadMatch(case, "tag", True)
    return None


def _participates(sender: str | None, case: CaseRef, trusted_senders: Collection[str]) -> bool:
    return sender is not None and (sender in case.participants or sender in trusted_senders)
