"""The pure core: every branch of what happens to one mail, without any server."""

from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from inboxbot.domain.cases import CaseRef
from inboxbot.domain.conversation import ThreadMatch
from inboxbot.domain.deadlines import DuePolicy, WorkingDayCalendar
from inboxbot.domain.decide import (
    FROM_FORWARD,
    FROM_FORWARDED_HEADER,
    SENT,
    TRANSMITTER_THANKS,
    Attach,
    AwaitProof,
    Facts,
    Ignore,
    Obey,
    OpenCase,
    Original,
    Policy,
    decide,
    decide_in_her_name,
)
from inboxbot.domain.message import Address, ParsedMail
from inboxbot.domain.rules import Verdict

PARIS = ZoneInfo("Europe/Paris")
RECEIVED = datetime(2026, 12, 18, 17, 0, tzinfo=PARIS)
DIRECTOR = "alice@cafemetrie.com"
POLICY = Policy(
    mode="shared",
    acknowledge=True,
    daily_cap_per_sender=3,
    due=DuePolicy(WorkingDayCalendar.for_country(), PARIS),
    own_addresses=frozenset({DIRECTOR}),
)
CASE = CaseRef(
    id=3, number="2026-0003", status="open", claimant="lea@example.fr", participants=frozenset({"lea@example.fr"})
)
NO_RULE = Verdict(action=None, kind=None, nature=None, priority=None, channel=None, hits=())
CLAIM = Verdict(
    action="claim",
    kind="reclamation",
    nature="materielle",
    priority="haute",
    channel=None,
    hits=("40-complaint-words.toml:x",),
)


def facts(verdict: Verdict = CLAIM, sender: str | None = "lea@example.fr", **changes: object) -> Facts:
    mail = ParsedMail(
        message_id="m1@example.fr",
        subject="RE : Réclamation : attestation manquante",
        from_=Address(sender, "Léa Martin") if sender else None,
    )
    return replace(Facts(mail=mail, folder_role="inbox", received_at=RECEIVED, thread=None, verdict=verdict), **changes)  # type: ignore[arg-type]


def test_a_claim_opens_a_case_with_its_deadlines_and_an_acknowledgement() -> None:
    decision = decide(facts(), POLICY)
    assert isinstance(decision, OpenCase)
    assert decision.kind == "reclamation" and decision.channel == "email"
    assert decision.claimant == Address("lea@example.fr", "Léa Martin")
    assert decision.subject == "Réclamation : attestation manquante"
    assert decision.received_at == RECEIVED
    assert decision.acknowledge_due == date(2027, 1, 12)
    assert decision.response_due == date(2027, 1, 15)  # 30 days is Sunday 17th: the Friday is promised
    assert (decision.nature, decision.priority) == ("materielle", "haute")
    assert decision.rules_hit == CLAIM.hits
    assert decision.acknowledgement == "acknowledgement"


def test_an_incident_gets_its_own_template_and_defaults_to_alea() -> None:
    verdict = replace(NO_RULE, action="incident", hits=("20-incidents.toml:x",))
    decision = decide(facts(verdict, sender="formateur@example.fr"), POLICY)
    assert isinstance(decision, OpenCase)
    assert decision.kind == "alea" and decision.acknowledgement == "incident_acknowledgement"
    decision = decide(facts(replace(verdict, kind="difficulte")), POLICY)
    assert isinstance(decision, OpenCase) and decision.kind == "difficulte"


def test_shared_mode_leaves_unclaimed_mail_alone_and_dedicated_mode_claims_it() -> None:
    assert decide(facts(NO_RULE), POLICY) == Ignore("ignored", "no rule claimed it")
    decision = decide(facts(NO_RULE), replace(POLICY, mode="dedicated"))
    assert isinstance(decision, OpenCase) and decision.kind == "reclamation"


def test_ignore_and_triage_rules() -> None:
    ignored = decide(facts(replace(NO_RULE, action="ignore", hits=("50-x.toml:spam",))), POLICY)
    assert isinstance(ignored, Ignore) and ignored.outcome == "ignored" and "50-x.toml:spam" in ignored.reason
    triage = decide(facts(replace(NO_RULE, action="triage", hits=("50-x.toml:t",))), POLICY)
    assert isinstance(triage, Ignore) and triage.outcome == "triage"
    # In dedicated mode too, an ignore rule wins.
    assert isinstance(decide(facts(replace(NO_RULE, action="ignore")), replace(POLICY, mode="dedicated")), Ignore)


def test_a_reply_continues_its_case() -> None:
    thread = ThreadMatch(CASE, "references", True)
    assert decide(facts(thread=thread), POLICY) == Attach(CASE, "in", "")
    # Even when no rule claims it in shared mode.
    assert decide(facts(NO_RULE, thread=thread), POLICY) == Attach(CASE, "in", "")
    # But an explicit ignore rule still wins.
    assert isinstance(decide(facts(replace(NO_RULE, action="ignore"), thread=thread), POLICY), Ignore)


def test_replies_on_closed_cases_are_flagged_and_strangers_naming_a_case_go_to_triage() -> None:
    closed = ThreadMatch(replace(CASE, status="closed"), "references", True)
    decision = decide(facts(thread=closed), POLICY)
    assert isinstance(decision, Attach) and "closed" in decision.note
    # A stranger whose headers name a case does not join it: the director looks at it.
    decision = decide(facts(NO_RULE, sender="other@example.fr", foreign_case=CASE), POLICY)
    assert decision == Ignore("triage", "answers case 2026-0003 but its sender takes no part in it")
    # If the rules claim it anyway, it is a new case of its own.
    decision = decide(facts(sender="other@example.fr", foreign_case=CASE), POLICY)
    assert isinstance(decision, OpenCase) and decision.claimant == Address("other@example.fr", "Léa Martin")


def test_automatic_mail_is_never_acknowledged_but_recorded_against_its_case() -> None:
    assert decide(facts(automatic="Auto-Submitted: auto-replied"), POLICY) == Ignore(
        "automatic", "Auto-Submitted: auto-replied"
    )
    thread = ThreadMatch(CASE, "references", True)
    decision = decide(facts(automatic="delivery status report", thread=thread), POLICY)
    assert decision == Attach(CASE, "in", "automatic mail: delivery status report", "automatic")


def test_our_own_mail_is_never_processed() -> None:
    assert decide(facts(own=True), POLICY) == Ignore("own", "sent by inboxbot itself")
    assert decide(facts(own=True, thread=ThreadMatch(CASE, "references", True)), POLICY).outcome == "own"


def test_sent_folder_mail_is_the_directors_reply() -> None:
    thread = ThreadMatch(CASE, "references", True)
    assert decide(facts(folder_role=SENT, thread=thread, sender="alice@cafemetrie.com"), POLICY) == Attach(
        CASE, "out", "written by the director", "director"
    )
    assert decide(facts(folder_role=SENT, sender="alice@cafemetrie.com"), POLICY) == Ignore(
        "ignored", "sent mail about no case"
    )


def test_no_sender_is_set_aside() -> None:
    assert decide(facts(sender=None), POLICY) == Ignore("set_aside", "no sender address")


@pytest.mark.parametrize(
    ("changes", "policy", "note"),
    [
        ({"acknowledgements_today": 3}, POLICY, "daily cap of 3"),
        ({}, replace(POLICY, acknowledge=False), "turned off"),
        ({"from_director": True, "sender": "alice@cafemetrie.com"}, POLICY, "organisation itself"),
    ],
)
def test_cases_opened_without_acknowledgement_say_why(changes: dict[str, object], policy: Policy, note: str) -> None:
    sender = changes.pop("sender", "lea@example.fr")
    decision = decide(facts(sender=sender, **changes), policy)  # type: ignore[arg-type]
    assert isinstance(decision, OpenCase)
    assert decision.acknowledgement is None and note in decision.note


def test_a_transmitted_claim_belongs_to_its_original_author() -> None:
    verdict = replace(CLAIM, channel="third_party")
    author = Address("lea@example.fr", "Léa")
    decision = decide(facts(verdict, sender="lieu@partenaire.fr", forwarded_author=author), POLICY)
    assert isinstance(decision, OpenCase)
    assert decision.claimant == author and decision.transmitter == "lieu@partenaire.fr"
    assert decision.acknowledgement == "acknowledgement" and decision.channel == "third_party"
    # Without an author address, the case waits for #reclamant and nobody is acknowledged.
    decision = decide(facts(verdict, sender="lieu@partenaire.fr"), POLICY)
    assert isinstance(decision, OpenCase) and decision.claimant is None and decision.acknowledgement is None
    assert "#reclamant" in decision.note


def test_a_form_notification_belongs_to_the_address_typed_in_the_form() -> None:
    verdict = replace(CLAIM, channel="form")
    typed = Address("lea@example.fr", "Léa")
    decision = decide(facts(verdict, sender="wordpress@cafemetrie.com", form_claimant=typed), POLICY)
    assert isinstance(decision, OpenCase) and decision.claimant == typed and decision.transmitter is None
    decision = decide(facts(verdict, sender="wordpress@cafemetrie.com"), POLICY)
    assert isinstance(decision, OpenCase) and decision.claimant is None and decision.acknowledgement is None


def test_an_oral_claim_written_down_has_no_claimant_until_named() -> None:
    decision = decide(facts(replace(CLAIM, channel="oral")), POLICY)
    assert isinstance(decision, OpenCase) and decision.claimant is None and decision.acknowledgement is None


def directors_note(verdict: Verdict = NO_RULE, **changes: object) -> Facts:
    return facts(verdict, sender=DIRECTOR, from_director=True, to_self=True, **changes)


def test_the_directors_commands_wait_for_proof() -> None:
    assert isinstance(decide(directors_note(has_commands=True), POLICY), AwaitProof)
    assert isinstance(decide(directors_note(has_commands=True, proven=True), POLICY), Obey)
    # Proven from her Sent folder as well.
    assert isinstance(decide(directors_note(has_commands=True, proven=True, folder_role=SENT), POLICY), Obey)


def test_a_claim_she_passes_on_opens_a_case_once_proven_and_obeys_its_commands() -> None:
    verdict = replace(CLAIM, channel="third_party")
    author = Address("lea@example.fr")
    assert isinstance(decide(directors_note(verdict=verdict, forwarded_author=author), POLICY), AwaitProof)
    decision = decide(directors_note(verdict=verdict, forwarded_author=author, proven=True, has_commands=True), POLICY)
    assert isinstance(decision, OpenCase)
    assert decision.claimant == author and decision.transmitter == DIRECTOR and decision.obey


EARLIER = datetime(2026, 12, 1, 9, 30, tzinfo=PARIS)


def test_her_forward_is_the_originals_case_dated_by_its_reception() -> None:
    verdict = replace(CLAIM, channel="third_party")
    lea = Address("lea@example.fr", "Léa")
    found = Original(author=lea, received_at=EARLIER, received_from=None)
    decision = decide(directors_note(verdict=verdict, original=found, proven=True), POLICY)
    assert isinstance(decision, OpenCase)
    assert (decision.claimant, decision.channel, decision.transmitter) == (lea, "email", None)
    assert decision.received_at == EARLIER and decision.received_from is None
    assert decision.acknowledge_due == date(2026, 12, 22) and decision.thanks is None
    # Not found: the header's date, said so; no date at all: the forward's own, said so too.
    header = Original(author=lea, received_at=EARLIER, received_from=FROM_FORWARDED_HEADER)
    decision = decide(directors_note(verdict=verdict, original=header, proven=True), POLICY)
    assert isinstance(decision, OpenCase) and decision.received_from == FROM_FORWARDED_HEADER
    undated = Original(author=lea, received_at=None, received_from=FROM_FORWARDED_HEADER)
    decision = decide(directors_note(verdict=verdict, original=undated, proven=True), POLICY)
    assert isinstance(decision, OpenCase) and decision.received_from == FROM_FORWARD
    assert decision.received_at == RECEIVED
    # The original was itself a venue passing Léa's claim on: Léa's, transmitted by the venue.
    venue = Address("accueil@lieu.example")
    passed = Original(lea, EARLIER, None, channel="third_party", transmitter=venue)
    decision = decide(directors_note(verdict=verdict, original=passed, proven=True), POLICY)
    assert isinstance(decision, OpenCase)
    assert (decision.channel, decision.transmitter, decision.thanks) == ("third_party", venue.email, None)
    # Already a case: her forward joins it.
    decision = decide(directors_note(verdict=verdict, original=replace(found, case=CASE), proven=True), POLICY)
    assert isinstance(decision, Attach) and decision.case == CASE


def test_a_third_party_passing_a_claim_on_is_thanked_within_the_same_bounds() -> None:
    verdict = replace(CLAIM, channel="third_party")
    lea = Address("lea@example.fr", "Léa")
    decision = decide(facts(verdict, sender="lieu@partenaire.fr", forwarded_author=lea), POLICY)
    assert isinstance(decision, OpenCase) and decision.thanks == TRANSMITTER_THANKS
    for bounded in ({"thanks_today": 3}, {"dmarc_fail": "dmarc=fail header.from=partenaire.fr"}):
        decision = decide(facts(verdict, sender="lieu@partenaire.fr", forwarded_author=lea, **bounded), POLICY)
        assert isinstance(decision, OpenCase) and decision.thanks is None
    # Forwarding one's own mail transmits nothing: the forwarder is the claimant, by e-mail.
    self_sent = Address("LEA@example.fr")
    decision = decide(facts(verdict, sender="lea@example.fr", forwarded_author=self_sent), POLICY)
    assert isinstance(decision, OpenCase)
    assert (decision.channel, decision.transmitter, decision.thanks) == ("email", None, None)


def test_her_note_without_commands_or_claim_is_an_ordinary_mail() -> None:
    assert decide(directors_note(), POLICY) == Ignore("ignored", "no rule claimed it")


def test_a_reply_to_the_satisfaction_request_is_feedback_not_a_closed_case_alert() -> None:
    closed = ThreadMatch(replace(CASE, status="closed"), "references", True)
    decision = decide(facts(thread=closed, answers_feedback_request=True), POLICY)
    assert isinstance(decision, Attach) and decision.purpose == "feedback"
    decision = decide(facts(thread=closed), POLICY)
    assert isinstance(decision, Attach) and decision.purpose == "closed_case"
    # Someone else answering the request is not the claimant's feedback.
    decision = decide(facts(sender="other@example.fr", thread=closed, answers_feedback_request=True), POLICY)
    assert isinstance(decision, Attach) and decision.purpose == "closed_case"


def test_under_the_cap_an_acknowledgement_is_sent() -> None:
    decision = decide(facts(acknowledgements_today=2), POLICY)
    assert isinstance(decision, OpenCase) and decision.acknowledgement == "acknowledgement"


def test_her_reply_to_our_mail_with_commands_never_opens_a_case() -> None:
    claim_words = replace(CLAIM, channel=None)
    note = directors_note(verdict=claim_words, proven=True, has_commands=True, answers_inboxbot=True)
    assert isinstance(decide(note, POLICY), Obey)
    # The same words in a fresh note of hers, forwarding a claim, do open one.
    fresh = directors_note(verdict=claim_words, proven=True, has_commands=True)
    assert isinstance(decide(fresh, POLICY), OpenCase)


def test_a_mail_in_her_name_gets_her_authority_only_with_proof() -> None:
    forward = replace(CLAIM, channel="third_party")
    victim = Address("victim@target.example", "Victime")
    as_hers = facts(forward, sender=DIRECTOR, from_director=True, forwarded_author=victim)
    as_anyone = facts(CLAIM, sender=DIRECTOR)
    # Her authority would make it a transmitted claim acknowledged to someone: it waits for proof.
    assert isinstance(decide_in_her_name(as_hers, as_anyone, POLICY), AwaitProof)
    proven = decide_in_her_name(replace(as_hers, proven=True), as_anyone, POLICY)
    assert isinstance(proven, OpenCase) and proven.claimant == victim
    # Where her authority changes nothing, it is anyone's mail at once.
    plain = facts(NO_RULE, sender=DIRECTOR)
    assert decide_in_her_name(replace(plain, from_director=True), plain, POLICY) == Ignore(
        "ignored", "no rule claimed it"
    )
    # Unproven, her address never joins a case as hers.
    assert decide(facts(sender=DIRECTOR, from_director=True, thread=ThreadMatch(CASE, "tag", True)), POLICY) == Attach(
        CASE, "in", ""
    )


def test_a_dmarc_fail_stops_the_acknowledgement_but_not_the_case() -> None:
    decision = decide(facts(dmarc_fail="dmarc=fail header.from=example.fr by mx"), POLICY)
    assert isinstance(decision, OpenCase) and decision.acknowledgement is None
    assert decision.note.startswith("sender's domain failed DMARC")
