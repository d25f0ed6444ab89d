"""Generated mail, well-formed or not, through parse → automatic → rules → decide: never an exception.

Bounded for CI: 400 generated mails a run (about five seconds here); hypothesis keeps the
failing ones it finds in its example database and tries them first next time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inboxbot.bootstrap import shipped
from inboxbot.domain.deadlines import DuePolicy, WorkingDayCalendar
from inboxbot.domain.decide import Facts, Policy, decide
from inboxbot.domain.mail_commands import parse_commands
from inboxbot.domain.rules import RuleContext, load_rules
from inboxbot.reading.automatic import automatic_reason
from inboxbot.reading.forward import extract_forwarded
from inboxbot.reading.parse import ParseError, parse
from inboxbot.reading.quotes import new_text
from inboxbot.reading.satisfaction import read_feedback
from inboxbot.reading.webform import read_form

RULES = load_rules([Path(shipped("rules"))])
POLICY = Policy(
    mode="dedicated",
    acknowledge=True,
    daily_cap_per_sender=3,
    due=DuePolicy(WorkingDayCalendar.for_country(), ZoneInfo("Europe/Paris")),
    own_addresses=frozenset({"alice@cafemetrie.example"}),
)
HEADER_NAMES = st.sampled_from(
    [
        "From",
        "To",
        "Cc",
        "Subject",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Date",
        "Reply-To",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "Auto-Submitted",
        "Precedence",
        "List-Id",
        "Return-Path",
        "MIME-Version",
        "X-Inboxbot-Loop",
        "Authentication-Results",
    ]
)
VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            'multipart/mixed; boundary="b"',
            "text/plain; charset=utf-8",
            "text/html; charset=iso-2022-jp",
            "message/rfc822",
            "base64",
            "quoted-printable",
            "=?utf-8?q?R=C3=A9clamation?=",
            "=?bogus?b?!!!?=",
            "<a@b>",
            "<>",
            "Léa <lea@example.fr>",
            "auto-replied",
            "bulk",
            "attachment; filename*=utf-8''%2E%2E%2Fx",
            "[ALÉA] salle",
            "RE : [Dossier 2026-0001] plainte",
            "Thu, 01 Jan 1970 00:00:00 +0000",
        ]
    ),
)
BODIES = st.one_of(
    st.text(max_size=400),
    st.sampled_from(
        [
            "--b\r\nContent-Type: text/plain\r\n\r\nbonjour\r\n--b--",
            "--b\r\nbroken",
            "<p>html<script>x</script>",
            "#clore\n#prolonger 15 motif",
            "> cité\nLe lun. 3 nov. 2026 à 10:00, A <a@b.fr> a écrit :\n> x",
            "---------- Message transféré ---------\nDe : Léa <lea@example.fr>\nObjet : x\n\ntexte",
            "4/5 très satisfait",
        ]
    ),
)


@st.composite
def raw_mails(draw: st.DrawFn) -> bytes:
    headers = draw(st.lists(st.tuples(HEADER_NAMES, VALUES), max_size=12))
    body = draw(BODIES)
    text = "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n" + body
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "cp1252"]))
    raw = text.encode(encoding, errors="replace")
    if draw(st.booleans()):  # and some plain byte damage on top
        cut = draw(st.integers(min_value=0, max_value=len(raw)))
        raw = raw[:cut] + draw(st.binary(max_size=40)) + raw[cut:]
    return raw


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_mails())
def test_any_mail_goes_through_the_core_without_an_exception(raw: bytes) -> None:
    try:
        mail = parse(raw)
    except ParseError:
        return  # a clear outcome: the pipeline sets such a mail aside with this reason
    automatic = automatic_reason(mail)
    sender = mail.from_.email if mail.from_ else None
    verdict = RULES.evaluate(
        RuleContext(mail=mail, from_director=sender == "alice@cafemetrie.example", automatic=automatic is not None)
    )
    decision = decide(
        Facts(
            mail=mail,
            folder_role="inbox",
            received_at=datetime.now(UTC),
            thread=None,
            verdict=verdict,
            automatic=automatic,
        ),
        POLICY,
    )
    assert decision.outcome in {"opened", "ignored", "automatic", "set_aside", "triage", "own"}
    # The readers that run on parts of a mail must cope with anything too.
    new_text(mail.text, mail.html)
    parse_commands(mail.text, mail.subject)
    extract_forwarded(mail)
    read_form(mail)
    read_feedback(mail.text)
