"""Proving a command mail is the director's from her receiving server's Authentication-Results.

The header values below are shaped on what Gmail, Microsoft 365, OVH (rspamd), OpenDKIM/
OpenDMARC behind Postfix, Fastmail and Yahoo write, with the director's domain swapped in.
"""

from __future__ import annotations

import time

import pytest

from inboxbot.domain.message import Address, ParsedMail
from inboxbot.reading.parse import parse
from inboxbot.reading.proof import Proof, _parse_header, dmarc_failure, prove_sender

DIRECTOR = "alice@cafemetrie.com"
OVH = ["mx.ovh.net"]

GMAIL = (
    "mx.google.com;\r\n"
    "       dkim=pass header.i=@cafemetrie.com header.s=google header.b=AbCdEf12;\r\n"
    "       arc=pass (i=1 spf=pass spfdomain=cafemetrie.com dkim=pass dkdomain=cafemetrie.com dmarc=pass fromdomain=cafemetrie.com);\r\n"
    "       spf=pass (google.com: domain of alice@cafemetrie.com designates 209.85.220.41 as permitted sender) smtp.mailfrom=alice@cafemetrie.com;\r\n"
    "       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=cafemetrie.com"
)
M365 = (
    "spf=pass (sender IP is 209.85.128.41)\r\n smtp.mailfrom=cafemetrie.com; dkim=pass (signature was verified)\r\n"
    " header.d=cafemetrie.com;dmarc=pass action=none header.from=cafemetrie.com;compauth=pass\r\n reason=100"
)
OVH_RSPAMD = (
    "mx.ovh.net;\r\n\tdkim=pass header.d=cafemetrie.com header.s=ovhmo3028686-selector1 header.b=Xyz0;\r\n"
    "\tspf=pass (mx.ovh.net: domain of alice@cafemetrie.com designates 46.105.1.2 as permitted sender) smtp.mailfrom=alice@cafemetrie.com;\r\n"
    "\tdmarc=pass (policy=none) header.from=cafemetrie.com"
)
FASTMAIL = (
    "mx4.messagingengine.com;\r\n"
    "    dkim=pass (2048-bit rsa key sha256) header.d=cafemetrie.com header.i=@cafemetrie.com header.b=abc header.a=rsa-sha256 header.s=fm1 x-bits=2048;\r\n"
    "    dmarc=pass policy.published-domain-policy=none policy.applied-disposition=none policy.evaluated-disposition=none (p=none,d=none,d.eval=none) policy.policy-from=p header.from=cafemetrie.com;\r\n"
    "    iprev=pass smtp.remote-ip=46.105.1.2 (mo1.mail-out.ovh.net);\r\n"
    "    spf=pass smtp.mailfrom=alice@cafemetrie.com smtp.helo=mo1.mail-out.ovh.net;\r\n"
    "    x-aligned-from=pass (Address match);\r\n"
    "    x-me-sender=none;\r\n"
    "    x-return-mx=pass header.domain=cafemetrie.com policy.is_org=yes (MX Records found: mx1.mail.ovh.net);\r\n"
    "    x-tls=pass smtp.version=TLSv1.3 smtp.cipher=TLS_AES_256_GCM_SHA384 smtp.bits=256/256;\r\n"
    "    x-vs=clean score=-100 state=0"
)


def mail_with(*results: str, sender: str = f"Alice Martin <{DIRECTOR}>") -> ParsedMail:
    """A mail as `parse` returns it, Authentication-Results listed topmost first."""
    lines = [f"Authentication-Results: {value}" for value in results]
    raw = "\r\n".join(
        [
            *lines,
            "Received: from mo1.mail-out.ovh.net (mo1.mail-out.ovh.net [46.105.1.2]) by mx.ovh.net",
            f"From: {sender}",
            "To: alice@cafemetrie.com",
            "Subject: clore 2026-0001",
            "Message-ID: <cmd1@cafemetrie.com>",
            "",
            "clore 2026-0001",
            "",
        ]
    )
    return parse(raw.encode("utf-8"))


def prove(*results: str, trusted: list[str] | None = None, sender: str = f"Alice Martin <{DIRECTOR}>") -> Proof:
    return prove_sender(mail_with(*results, sender=sender), DIRECTOR, OVH if trusted is None else trusted)


# --- what proves ----------------------------------------------------------------------------


def test_dkim_pass_for_her_domain_proves() -> None:
    proof = prove(
        'mx.ovh.net; dkim=pass (2048-bit key; unprotected) header.d=cafemetrie.com header.i=@cafemetrie.com header.b="kZ3/a+b"'
    )
    assert proof == Proof(True, "dkim=pass header.d=cafemetrie.com by mx.ovh.net")


def test_dkim_header_i_is_used_when_header_d_is_absent() -> None:
    proof = prove(
        "mx.google.com; dkim=pass header.i=@cafemetrie.com header.s=google header.b=AbCd", trusted=["mx.google.com"]
    )
    assert proof == Proof(True, "dkim=pass header.i=@cafemetrie.com by mx.google.com")


def test_dkim_header_i_with_a_full_address_proves() -> None:
    assert prove("mx.ovh.net; dkim=pass header.i=alice@cafemetrie.com").proven


def test_dkim_header_d_wins_over_header_i() -> None:
    # A signature of another domain does not become hers because its i= names her domain.
    proof = prove("mx.ovh.net; dkim=pass header.d=evil.example header.i=@cafemetrie.com")
    assert not proof.proven


def test_dmarc_pass_for_her_domain_proves() -> None:
    proof = prove(
        "mx.ovh.net; dkim=fail header.d=cafemetrie.com; dmarc=pass (p=none dis=none) header.from=cafemetrie.com"
    )
    assert proof == Proof(True, "dmarc=pass header.from=cafemetrie.com by mx.ovh.net")


def test_spf_pass_for_her_address_proves() -> None:
    proof = prove(
        "mx.ovh.net; spf=pass (mx.ovh.net: domain of alice@cafemetrie.com designates 46.105.1.2 as permitted sender) smtp.mailfrom=alice@cafemetrie.com"
    )
    assert proof == Proof(True, "spf=pass smtp.mailfrom=alice@cafemetrie.com by mx.ovh.net")


def test_spf_pass_for_her_domain_proves() -> None:
    assert (
        prove("mx.ovh.net; spf=pass smtp.mailfrom=cafemetrie.com").reason
        == "spf=pass smtp.mailfrom=cafemetrie.com by mx.ovh.net"
    )


def test_spf_mailfrom_in_angle_brackets_proves() -> None:
    assert prove("mx.ovh.net; spf=pass smtp.mailfrom=<alice@cafemetrie.com>").proven


def test_spf_pass_for_another_address_of_her_domain_does_not_prove() -> None:
    assert not prove("mx.ovh.net; spf=pass smtp.mailfrom=newsletter@cafemetrie.com").proven


def test_spf_pass_for_helo_only_does_not_prove() -> None:
    assert not prove("mx.ovh.net; spf=pass smtp.helo=mail.cafemetrie.com").proven


@pytest.mark.parametrize(
    ("header", "trusted", "reason"),
    [
        (GMAIL, "mx.google.com", "dkim=pass header.i=@cafemetrie.com by mx.google.com"),
        (OVH_RSPAMD, "mx.ovh.net", "dkim=pass header.d=cafemetrie.com by mx.ovh.net"),
        (FASTMAIL, "mx4.messagingengine.com", "dkim=pass header.d=cafemetrie.com by mx4.messagingengine.com"),
        (
            "atlas101.free.mail.bf1.yahoo.com; dkim=pass header.i=cafemetrie.com header.s=s1; spf=pass smtp.mailfrom=cafemetrie.com; dmarc=pass(p=NONE) header.from=cafemetrie.com;",
            "atlas101.free.mail.bf1.yahoo.com",
            "dkim=pass header.i=cafemetrie.com by atlas101.free.mail.bf1.yahoo.com",
        ),
        (
            "mx.microsoft.com 1; spf=pass (sender IP is 46.105.1.2) smtp.mailfrom=cafemetrie.com; dkim=pass (signature was verified) header.d=cafemetrie.com;dmarc=pass action=none header.from=cafemetrie.com;compauth=pass reason=100;",
            "mx.microsoft.com",
            "dkim=pass header.d=cafemetrie.com by mx.microsoft.com",
        ),
    ],
    ids=["gmail", "ovh-rspamd", "fastmail", "yahoo-trailing-semicolon", "m365-with-id-and-version"],
)
def test_real_world_headers_prove(header: str, trusted: str, reason: str) -> None:
    assert prove(header, trusted=[trusted]) == Proof(True, reason)


def test_authserv_id_and_values_compare_case_insensitively() -> None:
    proof = prove("MX.OVH.NET; DKIM=PASS Header.D=CafeMetrie.COM.", trusted=["Mx.Ovh.Net"])
    assert proof == Proof(True, "dkim=pass header.d=cafemetrie.com by mx.ovh.net")


def test_claimed_address_is_compared_lower_cased() -> None:
    mail = mail_with("mx.ovh.net; dkim=pass header.d=cafemetrie.com", sender="Alice <Alice@CafeMetrie.com>")
    assert prove_sender(mail, "Alice@CafeMetrie.com", OVH).proven


def test_any_of_several_trusted_servers_may_vouch() -> None:
    assert prove("mx2.ovh.net; dkim=pass header.d=cafemetrie.com", trusted=["mx.ovh.net", "mx2.ovh.net"]).proven


def test_the_pass_for_her_domain_is_found_among_other_signatures() -> None:
    header = "mx.ovh.net; dkim=pass header.d=sendgrid.net; dkim=pass header.d=cafemetrie.com; dkim-atps=neutral"
    assert prove(header).reason == "dkim=pass header.d=cafemetrie.com by mx.ovh.net"


def test_comments_folding_and_quoted_values_are_read() -> None:
    header = 'mx.ovh.net (ovh (inbound)) 1;\r\n\t dkim = pass (good; "really") header.d="cafemetrie.com"\r\n\t  header.b="ab;cd)" ; spf=none'
    assert prove(header).reason == "dkim=pass header.d=cafemetrie.com by mx.ovh.net"


def test_unicode_domain_matches_its_punycode_form() -> None:
    mail = ParsedMail(
        message_id=None,
        subject="",
        from_=Address("alice@cafémétrie.fr"),
        headers={"authentication-results": ("mx.ovh.net; dkim=pass header.d=xn--cafmtrie-d1ab.fr",)},
    )
    assert prove_sender(mail, "alice@cafémétrie.fr", OVH).proven


# --- what does not prove --------------------------------------------------------------------


def test_from_alone_proves_nothing() -> None:
    proof = prove()
    assert proof == Proof(False, "no Authentication-Results header by mx.ovh.net")


def test_header_of_an_untrusted_server_proves_nothing() -> None:
    proof = prove("mail.evil.example; dkim=pass header.d=cafemetrie.com; dmarc=pass header.from=cafemetrie.com")
    assert not proof.proven
    assert proof.reason == "no Authentication-Results header by mx.ovh.net"


def test_forged_header_below_the_servers_own_is_not_read() -> None:
    real = (
        "mx.ovh.net; dkim=none; spf=softfail smtp.mailfrom=alice@cafemetrie.com; dmarc=none header.from=cafemetrie.com"
    )
    forged = "mx.ovh.net; dkim=pass header.d=cafemetrie.com; dmarc=pass header.from=cafemetrie.com"
    proof = prove(real, forged)
    assert not proof.proven
    assert proof.reason == (
        "no pass for cafemetrie.com by mx.ovh.net: dkim=none; spf=softfail smtp.mailfrom=alice@cafemetrie.com; dmarc=none header.from=cafemetrie.com"
    )


def test_forged_header_below_with_other_case_id_is_not_read() -> None:
    assert not prove(
        "mx.ovh.net; dkim=fail header.d=cafemetrie.com", "MX.OVH.NET; dkim=pass header.d=cafemetrie.com"
    ).proven


def test_untrusted_headers_above_do_not_hide_the_trusted_one() -> None:
    assert prove("spamfilter.local; dkim=fail", "mx.ovh.net; dkim=pass header.d=cafemetrie.com").proven


def test_topmost_trusted_header_counts_even_when_it_says_none() -> None:
    proof = prove("mx.ovh.net; none", "mx.ovh.net; dkim=pass header.d=cafemetrie.com")
    assert proof == Proof(False, "no pass for cafemetrie.com by mx.ovh.net: no DKIM, DMARC or SPF result")


@pytest.mark.parametrize("outcome", ["fail", "neutral", "none", "policy", "temperror", "permerror", "softfail"])
def test_only_pass_proves(outcome: str) -> None:
    header = f"mx.ovh.net; dkim={outcome} header.d=cafemetrie.com; spf={outcome} smtp.mailfrom=alice@cafemetrie.com; dmarc={outcome} header.from=cafemetrie.com"
    assert not prove(header).proven


@pytest.mark.parametrize(
    "header",
    [
        "mx.ovh.net; dkim=pass header.d=cafemetrie.com.evil.example",
        "mx.ovh.net; dkim=pass header.d=evilcafemetrie.com",
        "mx.ovh.net; dkim=pass header.d=com",
        "mx.ovh.net; dkim=pass header.i=@evil.example",
        "mx.ovh.net; dmarc=pass header.from=evil.example",
        "mx.ovh.net; spf=pass smtp.mailfrom=alice@evil.example",
        "mx.ovh.net; spf=pass smtp.mailfrom=evil.example",
        "mx.ovh.net; arc=pass (i=1 dkim=pass dkdomain=cafemetrie.com dmarc=pass fromdomain=cafemetrie.com)",
        "mx.ovh.net; x-aligned-from=pass header.from=cafemetrie.com",
        "mx.ovh.net; dkim=pass",
    ],
)
def test_passes_for_other_identities_do_not_prove(header: str) -> None:
    assert not prove(header).proven


def test_dmarc_fail_for_her_domain_vetoes_any_pass() -> None:
    proof = prove(
        "mx.ovh.net; spf=pass smtp.mailfrom=alice@cafemetrie.com; dmarc=fail (p=reject) header.from=cafemetrie.com"
    )
    assert proof == Proof(False, "dmarc=fail header.from=cafemetrie.com by mx.ovh.net")


def test_microsoft_365_header_without_authserv_id_is_not_trusted() -> None:
    # Nothing in it ties it to the receiving server, so a sender could have written it.
    assert prove(M365, trusted=["mx.microsoft.com"]) == Proof(
        False, "no Authentication-Results header by mx.microsoft.com"
    )


def test_from_must_be_the_claimed_address() -> None:
    mail = mail_with("mx.ovh.net; dkim=pass header.d=cafemetrie.com", sender="Bob <bob@cafemetrie.com>")
    proof = prove_sender(mail, DIRECTOR, OVH)
    assert proof == Proof(False, "From address bob@cafemetrie.com is not the claimed alice@cafemetrie.com")


def test_several_from_addresses_prove_nothing() -> None:
    mail = mail_with("mx.ovh.net; dkim=pass header.d=cafemetrie.com", sender=f"{DIRECTOR}, mallory@evil.example")
    assert prove_sender(mail, DIRECTOR, OVH) == Proof(False, "the mail has several From addresses")


def test_several_from_headers_prove_nothing() -> None:
    mail = ParsedMail(
        message_id=None,
        subject="",
        from_=Address(DIRECTOR),
        headers={
            "from": (DIRECTOR, "mallory@evil.example"),
            "authentication-results": ("mx.ovh.net; dkim=pass header.d=cafemetrie.com",),
        },
    )
    assert prove_sender(mail, DIRECTOR, OVH) == Proof(False, "the mail has several From addresses")


def test_a_display_name_with_a_comma_is_one_address() -> None:
    assert prove("mx.ovh.net; dkim=pass header.d=cafemetrie.com", sender=f'"Martin, Alice" <{DIRECTOR}>').proven


def test_mail_without_from_proves_nothing() -> None:
    mail = ParsedMail(
        message_id=None,
        subject="",
        from_=None,
        headers={"authentication-results": ("mx.ovh.net; dkim=pass header.d=cafemetrie.com",)},
    )
    assert prove_sender(mail, DIRECTOR, OVH) == Proof(False, "the mail has no From address")


def test_no_trusted_server_configured_proves_nothing() -> None:
    assert prove("mx.ovh.net; dkim=pass header.d=cafemetrie.com", trusted=[]).reason == (
        "no trusted receiving server is configured (authserv_ids)"
    )
    assert not prove("mx.ovh.net; dkim=pass header.d=cafemetrie.com", trusted=["  "]).proven


def test_claimed_value_that_is_no_address_proves_nothing() -> None:
    mail = mail_with("mx.ovh.net; dkim=pass header.d=cafemetrie.com")
    assert not prove_sender(mail, "cafemetrie.com", OVH).proven


@pytest.mark.parametrize(
    "header",
    [
        "",
        ";;;",
        "mx.ovh.net",
        "mx.ovh.net; this is not a result",
        "mx.ovh.net; dkim=pass (unterminated comment header.d=cafemetrie.com",
        'mx.ovh.net; dkim="pass header.d=cafemetrie.com',
        "mx.ovh.net; =pass header.d=cafemetrie.com",
        "mx.ovh.net; ) ( ) = ; \\",
        "(" * 10000,
    ],
)
def test_malformed_headers_prove_nothing_and_do_not_raise(header: str) -> None:
    mail = ParsedMail(
        message_id=None, subject="", from_=Address(DIRECTOR), headers={"authentication-results": (header,)}
    )
    assert not prove_sender(mail, DIRECTOR, OVH).proven


# A sender chooses its envelope address, and servers print it in values and comments.
@pytest.mark.parametrize(
    "header",
    [
        'mx.ovh.net; spf=pass smtp.mailfrom="cafemetrie.com"@evil.example',
        'mx.ovh.net; spf=pass smtp.mailfrom="alice@cafemetrie.com"@evil.example',
        'mx.ovh.net; spf=pass smtp.mailfrom="x;dkim=pass header.d=cafemetrie.com"@evil.example',
        'mx.ovh.net; spf=pass (domain of "x);dkim=pass header.d=cafemetrie.com;(y"@evil.example designates 203.0.113.9 as permitted sender) smtp.mailfrom="x);dkim=pass header.d=cafemetrie.com;(y"@evil.example',
        "mx.ovh.net; spf=pass smtp.mailfrom=cafemetrie.com(x@evil.example",
        "mx.ovh.net; dmarc=pass header.from=cafemetrie.com(comment)",
    ],
    ids=["quoted-domain", "quoted-address", "quoted-semicolon", "comment-injection", "cut-by-comment", "cut-value"],
)
def test_sender_chosen_envelope_addresses_cannot_forge_a_pass(header: str) -> None:
    assert not prove(header).proven


def test_quoted_local_part_of_her_own_address_still_proves() -> None:
    assert prove('mx.ovh.net; spf=pass smtp.mailfrom="alice"@cafemetrie.com').reason == (
        "spf=pass smtp.mailfrom=alice@cafemetrie.com by mx.ovh.net"
    )


def test_an_unreadable_result_does_not_hide_the_next_one() -> None:
    assert prove("mx.ovh.net; garbage words here; dkim=pass header.d=cafemetrie.com").proven


def test_reason_quotes_sender_values_safely() -> None:
    header = "mx.ovh.net; dkim=fail header.d=" + "x" * 500 + '; spf=fail smtp.mailfrom="a\\\x07b"@evil.example'
    mail = ParsedMail(
        message_id=None, subject="", from_=Address(DIRECTOR), headers={"authentication-results": (header,)}
    )
    reason = prove_sender(mail, DIRECTOR, OVH).reason
    assert reason.startswith("no pass for cafemetrie.com by mx.ovh.net: dkim=fail header.d=xxx")
    assert len(reason) < 300
    assert "\x07" not in reason
    assert "smtp.mailfrom=a?b@evil.example" in reason


# --- the parser itself, on what the proof does not need to pass -------------------------------


def test_parser_reads_microsoft_365_properties_without_authserv_id() -> None:
    header = _parse_header(M365)
    assert header.authserv_id is None
    assert [(r.method, r.result) for r in header.results] == [
        ("spf", "pass"),
        ("dkim", "pass"),
        ("dmarc", "pass"),
        ("compauth", "pass"),
    ]
    assert header.results[2].properties == {"action": "none", "header.from": "cafemetrie.com"}
    assert header.results[3].properties == {"reason": "100"}


def test_parser_keeps_method_without_version_and_values_with_equals_signs() -> None:
    header = _parse_header("mx.ovh.net 1; dkim/1=pass header.b=abc/+== header.d=cafemetrie.com")
    assert header.authserv_id == "mx.ovh.net"
    assert header.results[0].method == "dkim"
    assert header.results[0].properties == {"header.b": "abc/+==", "header.d": "cafemetrie.com"}


def test_parser_reads_fastmail_header_fully() -> None:
    header = _parse_header(FASTMAIL)
    assert header.authserv_id == "mx4.messagingengine.com"
    assert [r.method for r in header.results] == [
        "dkim", "dmarc", "iprev", "spf", "x-aligned-from", "x-me-sender", "x-return-mx", "x-tls", "x-vs",
    ]  # fmt: skip
    assert header.results[3].properties == {
        "smtp.mailfrom": "alice@cafemetrie.com",
        "smtp.helo": "mo1.mail-out.ovh.net",
    }


def test_a_thousand_long_untrusted_headers_are_cheap() -> None:
    value = ("evil.example; " + "dkim=pass header.d=cafemetrie.com (comment) ; " * 200)[:8192]
    mail = ParsedMail(
        message_id=None, subject="", from_=Address(DIRECTOR), headers={"authentication-results": (value,) * 1000}
    )
    start = time.perf_counter()
    assert not prove_sender(mail, DIRECTOR, OVH).proven
    assert time.perf_counter() - start < 1  # about 4 ms: only each authserv-id is read


def test_a_dmarc_fail_is_read_only_from_the_topmost_trusted_header_and_for_the_from_domain() -> None:
    lea = "Léa <lea@example.fr>"
    failed = mail_with("mx.ovh.net; dmarc=fail (p=reject) header.from=example.fr", sender=lea)
    assert dmarc_failure(failed, OVH) == "dmarc=fail header.from=example.fr by mx.ovh.net"
    # Another server's verdict, a fail about another domain, or one planted below ours: nothing.
    assert dmarc_failure(failed, ["mx.other.example"]) == ""
    assert dmarc_failure(mail_with("mx.ovh.net; dmarc=fail header.from=other.example", sender=lea), OVH) == ""
    planted = mail_with("mx.ovh.net; dmarc=pass header.from=example.fr", "mx.ovh.net; dmarc=fail", sender=lea)
    assert dmarc_failure(planted, OVH) == ""
    assert dmarc_failure(mail_with("mx.ovh.net; dmarc=none header.from=example.fr", sender=lea), OVH) == ""
