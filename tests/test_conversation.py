"""Threading: Message-IDs first, the subject tag only for people already in the case."""

from collections.abc import Sequence
from datetime import UTC

import pytest

from inboxbot.domain.cases import CaseRef
from inboxbot.domain.conversation import base_subject, case_tag, find_thread, strip_reply_prefixes, tagged_numbers
from inboxbot.domain.message import Address, ParsedMail
from inboxbot.domain.vocabulary import CaseStatus, Direction

CASE = CaseRef(
    id=7,
    number="2026-0007",
    status=CaseStatus.OPEN,
    claimant="lea@example.fr",
    participants=frozenset({"lea@example.fr"}),
)


class Lookup:
    def __init__(self, by_id: dict[str, CaseRef], by_number: dict[str, CaseRef]) -> None:
        self.by_id = by_id
        self.by_number = by_number
        self.asked: list[tuple[str, ...]] = []

    def case_for_message_ids(self, message_ids: Sequence[str]) -> CaseRef | None:
        self.asked.append(tuple(message_ids))
        return next((self.by_id[m] for m in message_ids if m in self.by_id), None)

    def case_by_number(self, number: str) -> CaseRef | None:
        return self.by_number.get(number)


def mail(
    sender: str, subject: str = "", in_reply_to: tuple[str, ...] = (), references: tuple[str, ...] = ()
) -> ParsedMail:
    return ParsedMail(
        message_id="new@x", subject=subject, from_=Address(sender), in_reply_to=in_reply_to, references=references
    )


@pytest.mark.parametrize(
    "subject",
    [
        "RE : Réclamation formation",
        "Re: Réclamation formation",
        "RE\u00a0: TR\u00a0: Réclamation formation",
        "Réf. : Réclamation formation",
        "REF: Réclamation formation",
        "Fwd: RE: Réclamation formation",
        "TR: Fw: Réclamation formation",
        "AW: Réclamation formation",
        "RE[2]: Réclamation formation",
        "re:re:Réclamation formation",
        "RE\u202f: Réclamation formation",
    ],
)
def test_french_and_english_prefixes_are_stripped(subject: str) -> None:
    assert strip_reply_prefixes(subject) == "Réclamation formation"


def test_words_that_merely_start_like_prefixes_stay() -> None:
    assert strip_reply_prefixes("Retour sur la formation") == "Retour sur la formation"
    assert strip_reply_prefixes("Trop de bruit") == "Trop de bruit"


def test_tag_round_trip_and_base_subject() -> None:
    tag = case_tag("Dossier", "2026-0012")
    assert tag == "[Dossier 2026-0012]"
    subject = f"RE : {tag} Accusé de réception : Attestation manquante"
    assert tagged_numbers(subject) == ("2026-0012",)
    assert base_subject(f"RE : TR : {tag} Attestation manquante") == "Attestation manquante"
    assert tagged_numbers("Facture [2026] et [#2026-0003]") == ("2026-0003",)


def test_references_find_the_case_whatever_the_sender() -> None:
    lookup = Lookup({"ack@inboxbot": CASE}, {})
    found = find_thread(mail("other@example.fr", references=("root@x", "ack@inboxbot")), lookup)
    assert found is not None and found.case == CASE and found.via == "references"
    assert found.sender_participates is False
    # In-Reply-To is tried before References, nearest reference first.
    assert lookup.asked[-1] == ("ack@inboxbot", "root@x")


def test_tag_is_a_fallback_only_for_participants() -> None:
    lookup = Lookup({}, {"2026-0007": CASE})
    subject = "RE: [Dossier 2026-0007] Attestation"
    assert find_thread(mail("lea@example.fr", subject), lookup) is not None
    assert find_thread(mail("LEA@example.fr".lower(), subject), lookup) is not None
    assert find_thread(mail("stranger@example.fr", subject), lookup) is None
    director = find_thread(mail("alice@cafemetrie.com", subject), lookup, trusted_senders={"alice@cafemetrie.com"})
    assert director is not None and director.via == "tag"


def test_no_thread_for_a_fresh_mail() -> None:
    assert find_thread(mail("lea@example.fr", "Réclamation"), Lookup({}, {})) is None


def test_bounce_originals_count_as_references() -> None:
    lookup = Lookup({"ack@inboxbot": CASE}, {})
    found = find_thread(mail("mailer-daemon@example.fr"), lookup, extra_message_ids=("ack@inboxbot",))
    assert found is not None and found.case == CASE


def test_the_exchange_log_orders_by_date_but_keeps_causes_before_near_simultaneous_effects() -> None:
    from datetime import datetime, timedelta

    from inboxbot.domain.cases import LogEntry, exchange_order

    t = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

    def entry(name: str, date: datetime, recorded: datetime) -> LogEntry:
        return LogEntry(Direction.IN, name, None, date, name, "", "", recorded)

    # The server rounded the claim's arrival up: it looks one second later than its acknowledgement.
    claim = entry("claim", t + timedelta(seconds=1), t + timedelta(seconds=1.2))
    ack = entry("ack", t + timedelta(seconds=0.9), t + timedelta(seconds=1.5))
    reply = entry("reply", t + timedelta(minutes=5), t + timedelta(minutes=5, seconds=3))
    # An old mail read in a first ingest: recorded last, but dated long before.
    old = entry("old", t - timedelta(days=3), t + timedelta(minutes=9))
    assert [e.message_id for e in exchange_order([reply, ack, old, claim])] == ["old", "claim", "ack", "reply"]
