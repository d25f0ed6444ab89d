"""Classification rules kept as data: `rules/*.toml`, loaded and compiled once, evaluated per mail.

Which mails are complaints, incidents or noise is the organisation's call, not the program's, so the
decision is written in TOML files the user can read and override (in the spirit of imapautofiler and
Mailman 3's rules and chains) rather than in code. Two properties drive the design:

* A rule file is trusted configuration that decides whether a claimant gets a case number. A typo in
  it must stop the program with a message naming the file and the key, never be skipped or
  half-applied, so every check happens at load time and loading stops at the first error.
* Evaluation runs on every mail of a possibly busy mailbox, so loading compiles each condition into
  a plain closure over precompiled regular expressions, and each derived view of the mail (the
  folded subject, its tags...) is computed at most once per evaluation, however many rules look.

A rule file looks like::

    [[rule]]
    name = "alea-tag"
    when = { subject_tag = "ALEA" }
    action = "incident"
    kind = "alea"

Conditions form a small grammar: `all`, `any` and `not` over the leaf matchers listed in
`CONDITIONS`, the one table that defines it. Text is matched in the folded form of `inboxbot.domain.text`
(no accents, case-folded) on both sides, so authors may write patterns with or without accents.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from inboxbot.domain.message import ParsedMail
from inboxbot.domain.text import fold
from inboxbot.domain.vocabulary import Channel, Kind, Nature, Priority, RuleAction, Term

__all__ = [
    "ACTIONS",
    "CHANNELS",
    "CONDITIONS",
    "KINDS",
    "NATURES",
    "PRIORITIES",
    "Rule",
    "RuleContext",
    "RuleError",
    "RuleSet",
    "Verdict",
    "load_rules",
]

ACTIONS = RuleAction.values()
KINDS = Kind.values()
NATURES = Nature.values()
PRIORITIES = Priority.values()
CHANNELS = Channel.values()

# The fields a rule may set, in Verdict order, with the terms each accepts.
OUTCOME_FIELDS: Mapping[str, type[Term]] = {
    "action": RuleAction,
    "kind": Kind,
    "nature": Nature,
    "priority": Priority,
    "channel": Channel,
}
TermT = TypeVar("TermT", bound=Term)
RULE_KEYS = ("name", "when", *OUTCOME_FIELDS, "stop", "description")


class RuleError(Exception):
    """A rule file that cannot be used as written.

    `path` is the offending file or directory, `key` the dotted key path inside the file
    (`rule[2].when.any[0].subject`) or None when the fault is not one key's (unreadable file, TOML
    syntax error: the message then carries the line), and `reason` the bare explanation.
    """

    def __init__(self, path: Path, key: str | None, reason: str) -> None:
        self.path = path
        self.key = key
        self.reason = reason
        where = f"{path}: {key}" if key else str(path)
        super().__init__(f"{where}: {reason}")


class InvalidEntry(Exception):
    """A fault found while compiling one file's contents (a rule file or the recognition
    vocabulary); the loader adds the file name.

    Compile functions only know the key path they were handed; keeping the path out of them lets
    the grammar table stay free of file-handling plumbing.
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class RuleContext:
    """A mail plus the facts about it that only the caller can know (store, config, headers)."""

    mail: ParsedMail
    from_director: bool = False
    known_case: bool = False
    automatic: bool = False
    web_form: bool = False  # a website form plugin's notification (see reading.webform.form_plugin)


@dataclass(frozen=True)
class Verdict:
    """What the rules say about one mail; None where no hit set that field.

    `hits` lists every rule whose condition held, as `"<file name>:<rule name>"`, so that a case can
    record why it was opened (or a mail why it was left alone).
    """

    action: RuleAction | None
    kind: Kind | None
    nature: Nature | None
    priority: Priority | None
    channel: Channel | None
    hits: tuple[str, ...]


class _Facts:
    """One mail as conditions see it; every derived value is computed lazily and at most once.

    One instance lives for one evaluation, so twenty subject rules fold the subject once, and a rule
    set that never looks at the body never folds it.
    """

    def __init__(self, ctx: RuleContext) -> None:
        self.ctx = ctx
        self._headers: dict[str, tuple[str, ...]] = {}

    @cached_property
    def subject(self) -> str:
        return fold(self.ctx.mail.subject)

    @cached_property
    def body(self) -> str:
        return fold(self.ctx.mail.text)

    @cached_property
    def tags(self) -> frozenset[str]:
        # "[ ALÉA ]" and "[alea]" are the same tag to the people typing them.
        return frozenset("".join(tag.split()) for tag in _TAG.findall(self.subject))

    @cached_property
    def sender(self) -> str | None:
        from_ = self.ctx.mail.from_
        return fold(from_.email) if from_ is not None else None

    @cached_property
    def recipients(self) -> tuple[str, ...]:
        mail = self.ctx.mail
        return tuple(fold(address.email) for address in (*mail.to, *mail.cc))

    def header(self, name: str) -> tuple[str, ...]:
        """Every value of header `name` (already lower-cased), folded."""
        values = self._headers.get(name)
        if values is None:
            values = tuple(fold(value) for value in self.ctx.mail.headers.get(name, ()))
            self._headers[name] = values
        return values


_TAG = re.compile(r"\[([^\[\]]*)\]")

Condition = Callable[[_Facts], bool]
"""A compiled condition: cheap to call, no validation left to do."""


# --- compiling conditions -------------------------------------------------------------------------


def toml_type_name(value: object) -> str:
    """The TOML word for a value's type, so errors speak the rule author's language."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def _unknown(name: str, choices: Sequence[str], what: str) -> str:
    """The reason for an unknown key, with the nearest valid one when a typo is likely."""
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {what} ({hint}expected one of {', '.join(choices)})"


def _fold_pattern(pattern: str) -> str:
    """`pattern` folded like the text it will search, leaving its escape sequences intact.

    Folding the whole pattern would turn `\\S`, `\\W`, `\\D`, `\\B`, `\\A` and `\\Z` into their
    lower-case opposites, so a backslash followed by an ASCII letter or digit is copied as is, and
    an escaped other character is folded and re-escaped (`\\É` becomes `e`). A consequence: a
    character written as an escape (`\\u00e9`, `\\x41`) is not folded and can never match; write
    accented letters as themselves.
    """
    out: list[str] = []
    literal: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            out.append(fold("".join(literal)))
            literal.clear()
            if escaped.isascii() and escaped.isalnum():
                out.append(char + escaped)
            else:
                out.append(re.escape(fold(escaped)))
            i += 2
        else:
            literal.append(char)
            i += 1
    out.append(fold("".join(literal)))
    return "".join(out)


def _regex(value: object, key: str) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise InvalidEntry(key, f"expected a regular expression (a string), got {toml_type_name(value)}")
    try:
        # Compiled as written first, so an error's position points into what the author typed.
        re.compile(value)
        return re.compile(_fold_pattern(value))
    except re.error as error:
        raise InvalidEntry(key, f"invalid regular expression: {error}") from None


def _flag(value: object, key: str) -> bool:
    # TOML booleans only: `true`, not 1 or "yes", so a condition reads the same to everybody.
    if not isinstance(value, bool):
        raise InvalidEntry(key, f"expected true or false, got {toml_type_name(value)}")
    return value


def _subject(value: object, key: str) -> Condition:
    search = _regex(value, key).search
    return lambda facts: search(facts.subject) is not None


def _body(value: object, key: str) -> Condition:
    search = _regex(value, key).search
    return lambda facts: search(facts.body) is not None


def _from(value: object, key: str) -> Condition:
    search = _regex(value, key).search
    return lambda facts: facts.sender is not None and search(facts.sender) is not None


def _to(value: object, key: str) -> Condition:
    search = _regex(value, key).search
    return lambda facts: any(search(address) is not None for address in facts.recipients)


_HEADER_KEYS = ("name", "matches")


def _header(value: object, key: str) -> Condition:
    if not isinstance(value, dict):
        raise InvalidEntry(key, f'expected a table {{ name = "...", matches = "..." }}, got {toml_type_name(value)}')
    for sub in value:
        if sub not in _HEADER_KEYS:
            raise InvalidEntry(f"{key}.{sub}", _unknown(sub, _HEADER_KEYS, "key"))
    name = value.get("name")
    if name is None:
        raise InvalidEntry(f"{key}.name", "required key is missing")
    if not isinstance(name, str):
        raise InvalidEntry(f"{key}.name", f"expected a header name, got {toml_type_name(name)}")
    if not name.strip():
        raise InvalidEntry(f"{key}.name", "empty header name")
    header = name.strip().lower()
    if "matches" not in value:
        return lambda facts: bool(facts.ctx.mail.headers.get(header))
    search = _regex(value["matches"], f"{key}.matches").search
    return lambda facts: any(search(v) is not None for v in facts.header(header))


def _subject_tag(value: object, key: str) -> Condition:
    if not isinstance(value, str):
        raise InvalidEntry(key, f"expected a tag (a string), got {toml_type_name(value)}")
    if "[" in value or "]" in value:
        raise InvalidEntry(key, f'write the tag without brackets: "{value.strip(" []")}"')
    tag = "".join(fold(value).split())
    if not tag:
        raise InvalidEntry(key, "empty tag")
    return lambda facts: tag in facts.tags


def _has_attachment(value: object, key: str) -> Condition:
    wanted = _flag(value, key)
    return lambda facts: bool(facts.ctx.mail.attachments) is wanted


def _context_flag(name: str) -> Callable[[object, str], Condition]:
    """A leaf comparing one of RuleContext's booleans, which the caller computed."""

    def compile_flag(value: object, key: str) -> Condition:
        wanted = _flag(value, key)
        return lambda facts: getattr(facts.ctx, name) is wanted

    return compile_flag


def _conditions(value: object, key: str) -> list[Condition]:
    if not isinstance(value, list):
        raise InvalidEntry(key, f"expected an array of conditions, got {toml_type_name(value)}")
    if not value:
        # `all = []` is vacuously true and `any = []` never true: neither is what anybody meant.
        raise InvalidEntry(key, "empty array of conditions")
    return [_compile(item, f"{key}[{index}]") for index, item in enumerate(value)]


def _all(value: object, key: str) -> Condition:
    parts = _conditions(value, key)
    return lambda facts: all(part(facts) for part in parts)


def _any(value: object, key: str) -> Condition:
    parts = _conditions(value, key)
    return lambda facts: any(part(facts) for part in parts)


def _not(value: object, key: str) -> Condition:
    inner = _compile(value, key)
    return lambda facts: not inner(facts)


CONDITIONS: Mapping[str, Callable[[object, str], Condition]] = {
    # composites
    "all": _all,  # all = [cond, ...]: every one holds
    "any": _any,  # any = [cond, ...]: at least one holds
    "not": _not,  # not = cond
    # leaves on the mail; regular expressions use re.search on folded text
    "subject": _subject,  # subject = "regex"
    "body": _body,  # body = "regex", on the readable text body
    "from": _from,  # from = "regex", on the sender's address; no sender, no match
    "to": _to,  # to = "regex", on any To or Cc address
    "header": _header,  # header = { name = "X-...", matches = "regex" }; without matches: present
    "subject_tag": _subject_tag,  # subject_tag = "ALEA": the subject holds [ALEA], [aléa], [ Alea ]
    "has_attachment": _has_attachment,  # has_attachment = true | false
    # leaves on facts the caller computed (RuleContext)
    "from_director": _context_flag("from_director"),
    "known_case": _context_flag("known_case"),
    "automatic": _context_flag("automatic"),
    "web_form": _context_flag("web_form"),
}
"""The whole condition grammar: each key a condition table may hold, and what compiles it."""


def _compile(value: object, key: str) -> Condition:
    """Compile one condition table; several keys in it must all hold."""
    if not isinstance(value, dict):
        raise InvalidEntry(key, f"expected a condition (a table), got {toml_type_name(value)}")
    if not value:
        raise InvalidEntry(key, "empty condition")
    parts: list[Condition] = []
    for name, argument in value.items():
        compile_part = CONDITIONS.get(name)
        if compile_part is None:
            raise InvalidEntry(f"{key}.{name}", _unknown(name, tuple(CONDITIONS), "condition"))
        parts.append(compile_part(argument, f"{key}.{name}"))
    if len(parts) == 1:
        return parts[0]
    return lambda facts: all(part(facts) for part in parts)


# --- rules and files ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One compiled rule. `label` is how its hits are recorded: `"<file name>:<rule name>"`."""

    path: Path
    name: str
    condition: Condition = field(repr=False, compare=False)
    action: RuleAction | None = None
    kind: Kind | None = None
    nature: Nature | None = None
    priority: Priority | None = None
    channel: Channel | None = None
    stop: bool = False
    description: str = ""
    label: str = field(init=False)
    outcome: tuple[tuple[str, Term], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", f"{self.path.name}:{self.name}")
        settings = tuple((name, value) for name in OUTCOME_FIELDS if (value := getattr(self, name)) is not None)
        object.__setattr__(self, "outcome", settings)

    def matches(self, ctx: RuleContext) -> bool:
        """Whether this rule's condition holds for `ctx` (for `inboxbot check` and tests)."""
        return self.condition(_Facts(ctx))


def _enum(value: object, key: str, term: type[Term]) -> Term:
    """The term a value names, in any case and with or without accents: "Réclamation" and
    "RECLAMATION" mean reclamation."""
    choices = term.values()
    if not isinstance(value, str):
        raise InvalidEntry(key, f"expected one of {', '.join(choices)}, got {toml_type_name(value)}")
    canonical = fold(value).strip()
    if canonical not in choices:
        raise InvalidEntry(key, f"{value!r} is not one of {', '.join(choices)}")
    return term(canonical)


def _set(outcome: Mapping[str, Term], name: str, term: type[TermT]) -> TermT | None:
    """The term a rule (or the first hit) set for `name`, typed as its field is."""
    value = outcome.get(name)
    return None if value is None else term(value)


def _compile_rule(table: object, key: str, path: Path) -> Rule:
    if not isinstance(table, dict):
        raise InvalidEntry(key, f"expected a rule (a table), got {toml_type_name(table)}")
    for name in table:
        if name not in RULE_KEYS:
            raise InvalidEntry(f"{key}.{name}", _unknown(name, RULE_KEYS, "key"))
    for required in ("name", "when"):
        if required not in table:
            raise InvalidEntry(f"{key}.{required}", "required key is missing")
    name = table["name"]
    if not isinstance(name, str):
        raise InvalidEntry(f"{key}.name", f"expected a string, got {toml_type_name(name)}")
    if not name.strip():
        raise InvalidEntry(f"{key}.name", "empty rule name")
    if name != name.strip() or ":" in name:
        # Hits read "<file>:<name>"; a colon or stray spaces would make them ambiguous.
        raise InvalidEntry(f"{key}.name", "a rule name may not contain ':' or surrounding spaces")
    condition = _compile(table["when"], f"{key}.when")
    outcome = {
        field_name: _enum(table[field_name], f"{key}.{field_name}", term)
        for field_name, term in OUTCOME_FIELDS.items()
        if field_name in table
    }
    if not outcome:
        raise InvalidEntry(key, f"the rule sets none of {', '.join(OUTCOME_FIELDS)}")
    stop = _flag(table.get("stop", False), f"{key}.stop")
    description = table.get("description", "")
    if not isinstance(description, str):
        raise InvalidEntry(f"{key}.description", f"expected a string, got {toml_type_name(description)}")
    return Rule(
        path=path,
        name=name,
        condition=condition,
        action=_set(outcome, "action", RuleAction),
        kind=_set(outcome, "kind", Kind),
        nature=_set(outcome, "nature", Nature),
        priority=_set(outcome, "priority", Priority),
        channel=_set(outcome, "channel", Channel),
        stop=stop,
        description=description,
    )


def _load_file(path: Path) -> list[Rule]:
    try:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    except tomllib.TOMLDecodeError as error:
        raise RuleError(path, None, f"invalid TOML: {error}") from None
    except UnicodeDecodeError:
        raise RuleError(path, None, "invalid TOML: the file is not UTF-8 text") from None
    except OSError as error:
        raise RuleError(path, None, f"cannot read the file: {error.strerror or error}") from None
    try:
        for top in document:
            if top != "rule":
                raise InvalidEntry(top, "unknown key: a rule file holds only [[rule]] tables")
        tables = document.get("rule", [])
        if not isinstance(tables, list):
            raise InvalidEntry("rule", f"expected [[rule]] tables, got {toml_type_name(tables)}")
        rules: list[Rule] = []
        first_use: dict[str, int] = {}
        for index, table in enumerate(tables):
            rule = _compile_rule(table, f"rule[{index}]", path)
            if rule.name in first_use:
                earlier = f"rule[{first_use[rule.name]}]"
                raise InvalidEntry(
                    f"rule[{index}].name",
                    f"duplicate rule name {rule.name!r} (already used by {earlier})",
                )
            first_use[rule.name] = index
            rules.append(rule)
    except InvalidEntry as fault:
        raise RuleError(path, fault.key, fault.reason) from None
    return rules


class RuleSet:
    """Compiled rules in evaluation order, and the files they came from."""

    def __init__(self, rules: Sequence[Rule], files: Sequence[Path] = ()) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.files: tuple[Path, ...] = tuple(files)

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __repr__(self) -> str:
        return f"RuleSet({len(self.rules)} rules from {len(self.files)} files)"

    def evaluate(self, ctx: RuleContext) -> Verdict:
        """Run every rule in order; each field comes from the first hit that sets it.

        Later hits are still recorded after every field is set, because `hits` is the explanation
        kept with the case; only a hit with `stop = true` ends the run.
        """
        facts = _Facts(ctx)
        decided: dict[str, Term] = {}
        hits: list[str] = []
        for rule in self.rules:
            if rule.condition(facts):
                hits.append(rule.label)
                for name, value in rule.outcome:
                    decided.setdefault(name, value)
                if rule.stop:
                    break
        return Verdict(
            action=_set(decided, "action", RuleAction),
            kind=_set(decided, "kind", Kind),
            nature=_set(decided, "nature", Nature),
            priority=_set(decided, "priority", Priority),
            channel=_set(decided, "channel", Channel),
            hits=tuple(hits),
        )


def load_rules(dirs: Sequence[Path]) -> RuleSet:
    """Load and compile every `*.toml` file of `dirs`, given lowest priority first.

    A file in a later directory replaces the file of the same name from an earlier one, so a user
    overrides the shipped defaults file by file (an empty file of the same name disables one). The
    files are then ordered by name, whatever their directory. Files whose name starts with a dot
    (editor lock files) are ignored. A directory that does not exist is an error, not an empty set:
    a mistyped rules path must not silently leave the mailbox unclassified.
    """
    if isinstance(dirs, (str, Path)):
        raise TypeError("load_rules takes a sequence of directories, not a single path")
    chosen: dict[str, Path] = {}
    for directory in map(Path, dirs):
        if not directory.is_dir():
            raise RuleError(directory, None, "not a directory")
        for path in directory.glob("*.toml"):
            # Not is_file(): a dangling symlink must fail loudly when read, not vanish.
            if not path.name.startswith(".") and not path.is_dir():
                chosen[path.name] = path
    files = [chosen[name] for name in sorted(chosen)]
    rules = [rule for path in files for rule in _load_file(path)]
    return RuleSet(rules, files)
