"""Whether a mail that claims to be the director's really is hers.

The director gives the bot commands by mail, and anyone can write her address in a From header,
so a command mail found in the inbox executes nothing on its From alone. What can vouch for it is
her receiving server: it checked DKIM, SPF and DMARC when the mail arrived and wrote what it
found in an `Authentication-Results` header (RFC 8601). The configuration names that server by
its authserv-id, the first word of the header it writes.

Trust rests on two facts. Only a header carrying a trusted authserv-id counts, whatever else the
mail carries. And the sender can put such a header in her own mail before sending it; RFC 8601
§5 asks receivers to delete or rename those, but many don't. The receiving server adds its own
ABOVE everything the sender wrote, so only the topmost header with a trusted authserv-id is read:
a forged one below it is never looked at. (This holds only if the named server writes the header
on every mail; a server that sometimes does not would leave a forged one on top.)

What counts as hers is decided by domain, as the mechanisms themselves work: a DKIM signature of
her domain, a DMARC pass for her domain in From, or an SPF pass for her envelope address or
domain. On a shared provider's domain (gmail.com, orange.fr) that trusts the provider to stop its
other users from sending under her address, which the large ones do.

The header is read by a small tolerant parser of our own rather than the `authres` package:
`authres` (last released in 2019) rejects a whole header for a trailing `;` (Yahoo, some
Microsoft 365 and Exim set-ups write one), for `smtp.mailfrom=<address>` in angle brackets and for
a non-ASCII domain, and it is all-or-nothing where one odd result should not hide the others.
Only the authserv-id, each result's method and value, and its `ptype.property=value` pairs are
needed, which a short scanner reads with comments, quoted strings and folding handled.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from inboxbot.domain.message import ParsedMail

_REASON_VALUE_CHARS = 100
"""Characters kept of one header value quoted in a reason: reasons go to logs and the case
history, and header values are the sender's to choose."""


@dataclass(frozen=True)
class Proof:
    """Whether the mail is proven to be the claimed sender's, and what said so (or why not).

    `reason` is English for the logs and the case history, e.g.
    "dkim=pass header.d=cafemetrie.com by mx.ovh.net".
    """

    proven: bool
    reason: str


@dataclass(frozen=True)
class _Result:
    """One `method=result` of an Authentication-Results header with its properties.

    `properties` maps "ptype.property" (lower-cased, e.g. "header.d") to the value as written,
    quotes removed; only the first value of a repeated property is kept.
    """

    method: str
    result: str
    properties: Mapping[str, str]


@dataclass(frozen=True)
class _Header:
    authserv_id: str | None  # None when the header has none (Microsoft 365 writes it so)
    results: tuple[_Result, ...]


def prove_sender(mail: ParsedMail, claimed: str, trusted_authserv_ids: Sequence[str]) -> Proof:
    """Whether a trusted receiving server vouches that `mail` is from `claimed`.

    `claimed` is the address the caller means to act for; it must be the mail's From, so that a
    proof for one address is never lent to another.
    """
    claimed = claimed.strip().lower()
    local, at, claimed_domain = claimed.rpartition("@")
    if not (local and at and claimed_domain):
        return Proof(False, f"claimed address {_shown(claimed)} is not an address")
    if mail.from_ is None:
        return Proof(False, "the mail has no From address")
    if mail.from_.email != claimed:
        return Proof(False, f"From address {_shown(mail.from_.email)} is not the claimed {claimed}")
    if _several_from_addresses(mail):
        # Which of them a server authenticated, and which one we read, need not agree.
        return Proof(False, "the mail has several From addresses")
    trusted = {_norm_domain(t) for t in trusted_authserv_ids if t.strip()}
    if not trusted:
        return Proof(False, "no trusted receiving server is configured (authserv_ids)")

    header = _topmost_trusted(mail.headers.get("authentication-results", ()), trusted)
    if header is None:
        names = ", ".join(sorted(trusted))
        return Proof(False, f"no Authentication-Results header by {names}")
    server = (header.authserv_id or "").lower()
    domain = _norm_domain(claimed_domain)

    for result in header.results:
        if result.method == "dmarc" and result.result == "fail" and _domain_of(_prop(result, "header.from")) == domain:
            # A DMARC fail for her domain means no aligned pass exists; any pass beside it is a
            # server inconsistency, and a command must not ride on one.
            return Proof(False, f"dmarc=fail header.from={domain} by {server}")

    for method in ("dkim", "dmarc", "spf"):
        for result in header.results:
            if result.method == method and result.result == "pass":
                identity = _matching_identity(result, claimed, domain)
                if identity is not None:
                    return Proof(True, f"{method}=pass {identity} by {server}")

    return Proof(False, f"no pass for {domain} by {server}: {_summary(header.results)}")


def dmarc_failure(mail: ParsedMail, trusted_authserv_ids: Sequence[str]) -> str:
    """Why the receiving server says the mail's From is forged, or "" when it does not say so.

    A DMARC fail for the From's domain, in the topmost header of a trusted server (the same trust
    as `prove_sender`), means the domain's owner publishes that this mail is not from them: no
    one is mailed on its say-so. A domain that publishes no DMARC record gets `none`, never `fail`.
    """
    if mail.from_ is None:
        return ""
    trusted = {_norm_domain(t) for t in trusted_authserv_ids if t.strip()}
    if not trusted or "authentication-results" not in mail.headers:
        return ""
    header = _topmost_trusted(mail.headers["authentication-results"], trusted)
    if header is None:
        return ""
    domain = _domain_of(mail.from_.email)
    for result in header.results:
        if result.method == "dmarc" and result.result == "fail":
            author = _prop(result, "header.from")
            # A server that names no header.from judged the one From the mail has.
            if not author or _domain_of(author) == domain:
                return f"dmarc=fail header.from={_shown(domain)} by {(header.authserv_id or '').lower()}"
    return ""


def _matching_identity(result: _Result, claimed: str, domain: str) -> str | None:
    """The property that ties a passing result to the claimed address, as "key=value", or None."""
    if result.method == "dkim":
        signer = _prop(result, "header.d")
        if signer:
            # header.d is what was verified; header.i is only looked at when d is absent (Gmail
            # writes i alone), since an i outside d would make the signature invalid anyway.
            return f"header.d={_norm_domain(signer)}" if _norm_domain(signer) == domain else None
        agent = _prop(result, "header.i")
        if agent and _domain_of(agent) == domain:
            return f"header.i={_shown(agent.lower())}"
        return None
    if result.method == "dmarc":
        author = _prop(result, "header.from")
        return f"header.from={domain}" if author and _domain_of(author) == domain else None
    if result.method == "spf":
        envelope = _prop(result, "smtp.mailfrom").strip().strip("<>").strip().lower()
        if envelope == claimed or ("@" not in envelope and envelope and _norm_domain(envelope) == domain):
            return f"smtp.mailfrom={_shown(envelope)}"
        return None
    return None


def _topmost_trusted(values: Sequence[str], trusted: set[str]) -> _Header | None:
    """The first (topmost) header whose authserv-id is trusted; the ones below are not read."""
    for value in values:
        # The authserv-id alone first: a hostile mail may carry a thousand long headers.
        first = _scan(value, first_segment_only=True)[0]
        if first and first[0].value is None and _norm_domain(first[0].word) in trusted:
            return _parse_header(value)
    return None


def _several_from_addresses(mail: ParsedMail) -> bool:
    values = mail.headers.get("from", ())
    if len(values) > 1:
        return True
    if not values:
        return False
    addresses = [address for _, address in email.utils.getaddresses([values[0]]) if "@" in address]
    return len(addresses) > 1


def _prop(result: _Result, key: str) -> str:
    return result.properties.get(key, "")


def _domain_of(identity: str) -> str:
    """The domain of "user@domain", "@domain" or a bare "domain", normalised."""
    return _norm_domain(identity.strip().strip("<>").rpartition("@")[2])


def _norm_domain(domain: str) -> str:
    """`domain` in one comparable form: lower-case, no final dot, IDNA-encoded when possible."""
    domain = domain.strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:  # an over-long or odd label: compare it as written
        return domain


def _summary(results: Sequence[_Result]) -> str:
    """The results that could have proven something, briefly, for the reason of a refusal."""
    shown = []
    for result in results:
        if result.method not in ("dkim", "dmarc", "spf"):
            continue
        key = {"dkim": "header.d", "dmarc": "header.from", "spf": "smtp.mailfrom"}[result.method]
        if result.method == "dkim" and not _prop(result, key):
            key = "header.i"
        value = _prop(result, key)
        shown.append(f"{result.method}={_shown(result.result)}" + (f" {key}={_shown(value)}" if value else ""))
    return "; ".join(shown) if shown else "no DKIM, DMARC or SPF result"


def _shown(value: str) -> str:
    """A sender-chosen value made safe and short enough for a log line."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in value)
    return cleaned if len(cleaned) <= _REASON_VALUE_CHARS else cleaned[:_REASON_VALUE_CHARS] + "…"


# --- reading an Authentication-Results value ---------------------------------------------------


def _parse_header(value: str) -> _Header:
    """The authserv-id and results of one header value; never raises.

    Tolerant where real servers stray from RFC 8601: a missing authserv-id (Microsoft 365),
    a trailing `;`, bare `key=value` words such as `action=none` (kept as properties), angle
    brackets, and results it cannot read (skipped, the others kept).
    """
    segments = _scan(value)
    first = segments[0]
    if first and first[0].value is None:
        authserv_id: str | None = first[0].word
        result_segments = segments[1:]  # the rest of the first segment is the optional version
    else:
        authserv_id = None
        result_segments = segments
    results = []
    for segment in result_segments:
        if not segment or segment[0].value is None:
            continue  # "none", or words that are no result
        method, outcome = segment[0].word, segment[0].value
        properties: dict[str, str] = {}
        for item in segment[1:]:
            if item.value is not None and not item.cut:
                properties.setdefault(item.word.lower(), item.value)
        results.append(_Result(method.partition("/")[0].lower(), outcome.lower(), properties))
    return _Header(authserv_id, tuple(results))


@dataclass(frozen=True)
class _Item:
    """A bare word (`value` None) or a key=value pair of one result.

    `cut` marks a value that a parenthesis ended with no space before it: the server wrote
    something our reading of it does not cover (an unquoted local part with a "(" in it), so the
    value is not the whole identity and must not be compared.
    """

    word: str
    value: str | None = None
    cut: bool = False


_WORD_STOPS = frozenset(' \t\r\n;()"=')
_VALUE_STOPS = frozenset(' \t\r\n;()"')


def _scan(value: str, first_segment_only: bool = False) -> list[list[_Item]]:
    """`value` split at `;` into segments of words and key=value pairs, comments dropped.

    RFC 8601 allows comments and whitespace around `=`; a quoted string is one value, and so is
    an address with a quoted local part ("a;b"@example.org), so that what a sender chose for its
    envelope address cannot split or end a value.
    """
    segments: list[list[_Item]] = [[]]
    i, end = 0, len(value)
    while i < end:
        ch = value[i]
        if ch.isspace():
            i += 1
        elif ch == "(":
            i = _skip_comment(value, i)
        elif ch == ";":
            if first_segment_only:
                break
            segments.append([])
            i += 1
        elif ch in ")=":
            i += 1  # stray: nothing to attach it to
        else:
            word, i = _token(value, i, _WORD_STOPS)
            j = _skip_space_and_comments(value, i)
            if j < end and value[j] == "=":
                k = _skip_space_and_comments(value, j + 1)
                item_value, i = _token(value, k, _VALUE_STOPS)
                cut = i < end and value[i] in "()"
                segments[-1].append(_Item(word, item_value, cut))
            else:
                segments[-1].append(_Item(word))
    return segments


def _token(value: str, start: int, stops: frozenset[str]) -> tuple[str, int]:
    """The word or value at `start`, quoted parts unquoted and joined to what touches them."""
    parts = []
    i = start
    while i < len(value) and (value[i] == '"' or value[i] not in stops):
        if value[i] == '"':
            part, i = _quoted(value, i)
        else:
            part, i = _run(value, i, stops)
        parts.append(part)
    return "".join(parts), i


def _run(value: str, start: int, stops: frozenset[str]) -> tuple[str, int]:
    i = start
    while i < len(value) and value[i] not in stops:
        i += 1
    return value[start:i], i


def _quoted(value: str, start: int) -> tuple[str, int]:
    """The content of the quoted string opening at `start`, and the index after it."""
    chars = []
    i = start + 1
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            chars.append(value[i + 1])
            i += 2
        elif ch == '"':
            return "".join(chars), i + 1
        else:
            chars.append(ch)
            i += 1
    return "".join(chars), i  # unterminated: the rest of the value


def _skip_comment(value: str, start: int) -> int:
    """The index after the (possibly nested) comment opening at `start`.

    A quoted string inside is skipped whole, though RFC 5322 comments know none: servers put the
    sender's envelope address in their comments ("domain of "x);dkim=pass ...;("@evil.example
    designates ..."), and a ")" in its quoted local part must not end the comment and let the
    rest be read as results. An unbalanced quote then hides the rest of the header, which only
    ever makes a mail less proven.
    """
    depth = 0
    i = start
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            i = _quoted(value, i)[1]
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i  # unterminated: the comment runs to the end


def _skip_space_and_comments(value: str, start: int) -> int:
    i = start
    while i < len(value):
        if value[i].isspace():
            i += 1
        elif value[i] == "(":
            i = _skip_comment(value, i)
        else:
            break
    return i
