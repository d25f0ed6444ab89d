"""A second mail about a mail still « à qualifier » joins it; a rule's triage is qualified the same way.

People write again when nobody answers (« vous avez eu mon message ? »), or reply in the same thread:
one story, so one line in the digest (« 2 messages ») and one decision for all of it. A mail a rule
leaves for her to sort carries a reference too, so she opens it or sets it aside by mail, in one step.
The pure decision first, then the whole story through Dovecot and the SMTP sink.
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import make_msgid
from pathlib import Path

from conftest import MailAccount
from e2e import register
from mails import make_mail
from servers import SmtpSink
from test_recognition_wiring import DIRECTOR, POLICY, SOPHIE, Story, facts, recognised, text_of

from inboxbot.domain.decide import Join, OpenCase, Pending, PutBefore, decide
from inboxbot.domain.rules import Verdict

PENDING = Pending(mail_id=42, reference="M-0042", same_thread=False)


# -- the decision ---------------------------------------------------------------------------------


def test_a_follow_up_joins_the_candidate_whatever_its_words_say() -> None:
    for outcome in ("candidate", "leave"):
        decision = decide(facts(recognised(outcome), pending=PENDING), POLICY)
        assert decision == Join(PENDING)
        assert decision.outcome == "joined" and "M-0042" in decision.note


def test_a_mail_sure_to_be_a_claim_opens_its_own_case_and_spam_joins_nobody() -> None:
    assert isinstance(decide(facts(recognised("open"), pending=PENDING), POLICY), OpenCase)
    spam = decide(facts(recognised("candidate"), pending=PENDING, spam="X-Spam-Flag: YES"), POLICY)
    assert isinstance(spam, PutBefore)


def test_a_mail_a_rule_settles_is_not_a_follow_up() -> None:
    rule = Verdict("claim", "reclamation", None, None, None, ("40-complaint-words.toml:x",))
    assert isinstance(decide(facts(recognised("candidate"), verdict=rule, pending=PENDING), POLICY), OpenCase)


# -- the story, through Dovecot and the SMTP sink ------------------------------------------------------


def _reply_from_director(story: Story, mail_account: MailAccount, body: str) -> None:
    """Her note to herself, with its copy in Sent: proven hers."""
    note = make_mail(f"Alice <{DIRECTOR}>", DIRECTOR, "Suivi", body, message_id=make_msgid(domain="cafemetrie.example"))
    for folder in ("Sent", "INBOX"):
        mail_account.append(note, folder=folder)
    story.now += timedelta(minutes=5)
    story.cycle()


def test_a_follow_up_and_a_reply_in_the_thread_make_one_line_and_open_one_case_with_every_mail(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink, database_url: str
) -> None:
    story = Story(tmp_path, mail_account, smtp_sink, database_url)
    story.cycle()
    first = make_msgid(domain="example.fr")
    start = story.now - timedelta(days=3)
    mail_account.append(
        make_mail(
            SOPHIE, DIRECTOR, "Formation de mardi", "Bonjour, je suis très déçue par la formation de mardi.", first
        ),
        internaldate=start,
    )
    story.cycle()
    # Two days later, the same author in a new thread; then a reply in the first thread from another
    # of her addresses. Neither becomes a second candidate.
    again = make_msgid(domain="example.fr")
    mail_account.append(
        make_mail(SOPHIE, DIRECTOR, "Mon message", "Bonjour, avez-vous bien eu mon message de mardi ?", again),
        internaldate=start + timedelta(days=2),
    )
    answer = make_msgid(domain="travail.example")
    mail_account.append(
        make_mail(
            "Sophie Bernard <s.bernard@travail.example>",
            DIRECTOR,
            "RE: Formation de mardi",
            "J'ajoute que les supports promis ne sont jamais arrivés.",
            answer,
            in_reply_to=first,
            references=first,
        ),
        internaldate=start + timedelta(days=2, hours=1),
    )
    story.cycle()
    (candidate,) = story.mails("--outcome", "candidate")
    reference = candidate["reference"]
    joined = {row["message_id"]: row for row in story.mails("--outcome", "joined")}
    assert set(joined) == {again.strip("<>"), answer.strip("<>")}
    assert all(row["joined_to"] == reference for row in joined.values())
    assert "from its author" in joined[again.strip("<>")]["reason"]
    assert "in its thread" in joined[answer.strip("<>")]["reason"]
    assert story.sink.messages == []  # nothing acknowledged

    story.now += timedelta(minutes=5)
    text = text_of(story.digest())
    lines = [line for line in text.splitlines() if line.strip().startswith("M-")]
    assert len(lines) == 1 and lines[0].strip().startswith(f"{reference} —")
    assert "3 messages" in lines[0] and f"#ouvrir {reference}" in lines[0]
    for row in joined.values():
        assert row["reference"] not in text

    # A follow-up's own reference is not a second thing to decide: she is told which one is.
    _reply_from_director(story, mail_account, f"#ouvrir {joined[again.strip('<>')]['reference']}")
    report = [m for m in story.sent_to(DIRECTOR) if "Commandes" in str(m["Subject"])][-1]
    assert f"#ouvrir {reference}" in text_of(report)
    assert register(story.config) == []

    _reply_from_director(story, mail_account, f"#ouvrir {reference}")
    (case,) = register(story.config)
    assert case["claimant"] == "sophie.bernard@example.fr"
    incoming = [message["message_id"] for message in case["messages"] if message["direction"] == "in"]
    assert incoming == [first.strip("<>"), again.strip("<>"), answer.strip("<>")]  # in the order received
    assert len(story.sent_to("sophie.bernard@example.fr")) == 1  # acknowledged once
    assert not story.sent_to("s.bernard@travail.example")
    report = [m for m in story.sent_to(DIRECTOR) if "Commandes" in str(m["Subject"])][-1]
    assert f"dossier {case['number']} ouvert (réclamation) avec les 3 messages" in text_of(report)
    everything = {row["message_id"]: row for row in story.mails()}
    assert {everything[mid.strip("<>")]["case"] for mid in (first, again, answer)} == {case["number"]}
    story.now += timedelta(days=1)
    assert reference not in text_of(story.digest())


def test_ecarter_sets_the_follow_ups_aside_too(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink, database_url: str
) -> None:
    story = Story(tmp_path, mail_account, smtp_sink, database_url)
    story.cycle()
    mail_account.append(make_mail(SOPHIE, DIRECTOR, "Formation", "Bonjour, je suis très déçue par la formation."))
    story.cycle()
    mail_account.append(make_mail(SOPHIE, DIRECTOR, "Encore moi", "Vous avez eu mon message ?"))
    story.cycle()
    (candidate,) = story.mails("--outcome", "candidate")
    _reply_from_director(story, mail_account, f"#ecarter {candidate['reference']}")
    outcomes = [row["outcome"] for row in story.mails() if row["from"] == "sophie.bernard@example.fr"]
    assert outcomes == ["dismissed", "dismissed"]
    report = [m for m in story.sent_to(DIRECTOR) if "Commandes" in str(m["Subject"])][-1]
    assert f"Message {candidate['reference']} écarté avec le message qui lui fait suite" in text_of(report)
    # A trainer writes about many sessions: his next mail follows a pending one only in its thread.
    mail_account.append(
        make_mail("Marc <marc.formateur@example.fr>", DIRECTOR, "Groupe", "Je suis un peu déçu par la salle de mardi.")
    )
    story.cycle()
    mail_account.append(make_mail("Marc <marc.formateur@example.fr>", DIRECTOR, "Janvier", "Je suis déçu du planning."))
    story.cycle()
    marc = [row["outcome"] for row in story.mails() if row["from"] == "marc.formateur@example.fr"]
    assert marc == ["candidate", "candidate"]
    # Decided: her next mail is a new story, not a follow-up of a mail set aside.
    mail_account.append(make_mail(SOPHIE, DIRECTOR, "Autre chose", "Je suis déçue : la salle était glaciale."))
    story.cycle()
    sophie = [row for row in story.mails("--outcome", "candidate") if row["from"] == "sophie.bernard@example.fr"]
    assert len(sophie) == 1
    assert not story.sent_to("sophie.bernard@example.fr")


def test_a_mail_a_rule_leaves_for_triage_is_opened_by_its_reference(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink, database_url: str
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "60-mairie.toml").write_text(
        '[[rule]]\nname = "mairie"\ndescription = "La mairie : à trier."\n'
        "when = { from = 'mairie-exemple' }\naction = \"triage\"\n",
        encoding="utf-8",
    )
    story = Story(tmp_path, mail_account, smtp_sink, database_url)
    story.config.write_text(
        story.config.read_text(encoding="utf-8") + f'\n[rules]\ndir = "{rules.as_posix()}"\n', encoding="utf-8"
    )
    story.cycle()
    town = make_msgid(domain="mairie-exemple.fr")
    arrived = story.now - timedelta(days=1)
    mail_account.append(
        make_mail(
            "Service formation <formation@mairie-exemple.fr>",
            DIRECTOR,
            "Session d'octobre",
            "Nos agents n'ont pas reçu leurs attestations.",
            town,
        ),
        internaldate=arrived,
    )
    story.cycle()
    (row,) = story.mails("--outcome", "triage")
    reference = row["reference"]
    assert row["commands"] == [f"#ouvrir {reference}", f"#ecarter {reference}"]
    story.now += timedelta(minutes=5)
    text = text_of(story.digest())
    line = next(line for line in text.splitlines() if "Session d'octobre" in line)
    assert line.strip().startswith(f"{reference} —")
    assert f"#ouvrir {reference}" in line and f"#ecarter {reference}" in line

    _reply_from_director(story, mail_account, f"#ouvrir {reference}")
    (case,) = register(story.config)
    assert case["claimant"] == "formation@mairie-exemple.fr" and case["kind"] == "reclamation"
    assert case["messages"][0]["message_id"] == town.strip("<>")
    assert len(story.sent_to("formation@mairie-exemple.fr")) == 1
