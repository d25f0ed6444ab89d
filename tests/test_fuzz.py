"""Generated mail, well-formed or not, through parse → automatic → rules → decide: never an exception.

Bounded for CI: 400 generated mails a run (about five seconds here); hypothesis keeps the
failing ones it finds in its example database and tries them first next time. Then adversarial
mails aimed at each parser (issue 14), each read within a time and memory budget.
"""

from __future__ import annotations

import base64
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mails import tnef_stream

from inboxbot.bootstrap import shipped
from inboxbot.domain.deadlines import DuePolicy, WorkingDayCalendar
from inboxbot.domain.decide import Facts, Policy, decide
from inboxbot.domain.mail_commands import parse_commands
from inboxbot.domain.rules import RuleContext, load_rules
from inboxbot.reading.automatic import automatic_reason, bounced_message_ids
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


# --- adversarial mails: each parser's worst inputs, with a time and memory budget per mail ----------

TIME_BUDGET_SECONDS = 2.0
MEMORY_BUDGET_BYTES = 50 * 1024 * 1024
"""Per mail, through the whole reading. Generous, so that a busy CI machine never fails it: the
largest mails generated here (up to 390 KB) took at most 0.26 s and 24 MB (150 mails measured); a
quadratic scan of them takes minutes."""

_FILLERS = [" ", "\t", "\x00", "a", "-", "<", "[", ":", "*", "\u00a0", "é", "@", ">"]


def _run_of(draw: st.DrawFn, size: int) -> str:
    return draw(st.sampled_from(_FILLERS)) * size


@st.composite
def hostile_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """(extra headers, body): a structure or a line aimed at one parser, at a size where a
    quadratic scan of it would take seconds."""
    size = draw(st.integers(min_value=10_000, max_value=120_000))
    kind = draw(
        st.sampled_from(
            [
                "dash-lines",
                "sibling-parts",
                "nested-declarations",
                "winmail-parts",
                "forward-header",
                "command",
                "form-label",
                "satisfaction",
                "html",
                "whitespace",
                "quotes",
            ]
        )
    )
    multipart = 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n'
    if kind == "dash-lines":
        return multipart, b"--b\r\n" * (size // 5)
    if kind == "sibling-parts":
        part = b"--b\r\nContent-Type: text/plain\r\n\r\n" + _run_of(draw, 8).encode() + b"\r\n"
        return multipart, part * (size // len(part)) + b"--b--\r\n"
    if kind == "nested-declarations":
        return multipart, b'--b\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' * (size // 50)
    if kind == "winmail-parts":
        winmail = base64.encodebytes(tnef_stream([(f"f{i}.txt", b"x") for i in range(40)]))
        part = b"--b\r\nContent-Type: application/ms-tnef\r\nContent-Transfer-Encoding: base64\r\n\r\n" + winmail
        return multipart, part * max(1, size // len(part)) + b"--b--\r\n"
    text_kinds = {
        "forward-header": lambda: "---------- Forwarded message ---------\nDe" + _run_of(draw, size) + "x\nObjet : x",
        "command": lambda: "#réclamant a<" + _run_of(draw, size) + "b\n#prolonger 15 motif : " + "é " * (size // 4),
        "form-label": lambda: "Nom" + _run_of(draw, size) + ": x\n--x" + _run_of(draw, size) + "y",
        "satisfaction": lambda: "le " * (size // 3) + "4/5 " + "satisfait " * (size // 40),
        "html": lambda: "<a " * (size // 3) + "<!--x>" * (size // 6),
        "whitespace": lambda: _run_of(draw, size) + "x" + _run_of(draw, size),
        "quotes": lambda: ("Le " * 80 + "\n") * (size // 240) + "\n" * size,
    }
    text = text_kinds[kind]()
    if kind == "html":
        return "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n", text.encode()
    return "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n", text.encode()


@st.composite
def hostile_mails(draw: st.DrawFn) -> bytes:
    """A mail whose headers are hostile too: huge names and ids, non-ASCII addresses, NULs."""
    extra, body = draw(hostile_bodies())
    name_size = draw(st.sampled_from([0, 300, 5_000, 30_000]))
    sender = draw(
        st.sampled_from(
            ["lea.martin@example.fr", "léa@exemple.fr", '"jean dupont"@example.fr', "a" * 400 + "@example.fr"]
        )
    )
    name = draw(st.sampled_from(["Léa", "N", " ", "\x00", "<"])) * name_size
    headers = (
        f"From: {name} <{sender}>\r\nTo: alice@cafemetrie.example\r\n"
        f"Subject: [RECLAMATION] {_run_of(draw, name_size)}x\r\n"
        f"Message-ID: <{'i' * draw(st.sampled_from([10, 900, 20_000]))}@example.fr>\r\n"
        f"References: {'<r@x> ' * draw(st.sampled_from([0, 200, 3_000]))}\r\n{extra}"
    )
    return headers.encode("utf-8") + b"\r\n" + body


def _read_whole(raw: bytes) -> None:
    """What the pipeline reads of a stranger's mail before deciding anything."""
    mail = parse(raw)
    automatic = automatic_reason(mail)
    bounced_message_ids(mail, raw)
    RULES.evaluate(RuleContext(mail=mail, from_director=False, automatic=automatic is not None))
    new_text(mail.text, mail.html)
    parse_commands(mail.text, mail.subject)
    extract_forwarded(mail)
    read_form(mail)
    read_feedback(mail.text)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(hostile_mails())
def test_a_hostile_mail_is_read_within_its_time_and_memory_budget(raw: bytes) -> None:
    start = time.process_time()
    _read_whole(raw)
    spent = time.process_time() - start
    assert spent < TIME_BUDGET_SECONDS, f"{len(raw)} bytes read in {spent:.1f} s"
    tracemalloc.start()
    try:
        _read_whole(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BUDGET_BYTES, f"{len(raw)} bytes read with a peak of {peak / 1e6:.0f} MB"
