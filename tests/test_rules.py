"""Tests for inboxbot.domain.rules: the grammar, the loading contract, the errors and the shipped rules.

Mails are built as ParsedMail values directly; rule files are written to pytest's tmp_path.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import inboxbot.domain.rules as rules_module
from inboxbot.domain.message import Address, Attachment, ParsedMail
from inboxbot.domain.rules import RuleContext, RuleError, RuleSet, Verdict, load_rules
from inboxbot.domain.text import fold

SHIPPED = Path(__file__).resolve().parent.parent / "rules"


def mail(
    subject: str = "Bonjour",
    *,
    sender: str | None = "stagiaire@exemple.fr",
    to: tuple[str, ...] = ("contact@organisme.fr",),
    cc: tuple[str, ...] = (),
    reply_to: tuple[str, ...] = (),
    text: str = "",
    headers: dict[str, tuple[str, ...]] | None = None,
    attachments: int = 0,
) -> ParsedMail:
    return ParsedMail(
        message_id="1@exemple.fr",
        subject=subject,
        from_=Address(sender) if sender is not None else None,
        to=tuple(Address(a) for a in to),
        cc=tuple(Address(a) for a in cc),
        reply_to=tuple(Address(a) for a in reply_to),
        headers=headers or {},
        text=text,
        attachments=tuple(Attachment(f"piece{i}.pdf", "application/pdf", b"%PDF") for i in range(attachments)),
    )


def write(directory: Path, name: str, content: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(content), encoding="utf-8")
    return path


def one_rule(tmp_path: Path, when: str) -> RuleSet:
    """A rule set holding a single rule with condition `when` (TOML inline table)."""
    write(tmp_path, "50-test.toml", f'[[rule]]\nname = "r"\nwhen = {when}\naction = "claim"\n')
    return load_rules([tmp_path])


def holds(rules: RuleSet, ctx_or_mail: RuleContext | ParsedMail) -> bool:
    ctx = ctx_or_mail if isinstance(ctx_or_mail, RuleContext) else RuleContext(ctx_or_mail)
    return rules.evaluate(ctx).hits == ("50-test.toml:r",)


# --- leaves ---------------------------------------------------------------------------------------

LEAF_CASES = [
    # (condition, a context it holds for, a context it does not hold for)
    pytest.param(
        '{ subject = "réclamation" }',
        mail("RECLAMATION urgente"),
        mail("Facture de mars"),
        id="subject-folded-both-sides",
    ),
    pytest.param(
        "{ subject = 'RECLAMATION' }",
        mail("Ma réclamation"),
        mail("Ma demande"),
        id="subject-upper-pattern",
    ),
    pytest.param(
        r"{ subject = '^\S+ \S+$' }",  # \S must stay \S: folding it would make it \s
        mail("Deux Mots"),
        mail("trois mots ici"),
        id="subject-escapes-kept",
    ),
    pytest.param(
        r"{ subject = '\Bplainte' }",  # \B must stay \B: folding it would make it \b
        mail("Une complainte"),
        mail("Une plainte"),
        id="subject-non-boundary-escape",
    ),
    pytest.param(
        r"{ subject = 'caf\é' }",  # an escaped accented letter is folded too
        mail("Au CAFÉ"),
        mail("Au bar"),
        id="subject-escaped-accent",
    ),
    pytest.param(
        '{ subject = "re : plainte" }',
        mail("RE\u00a0: Plainte"),  # no-break space before the colon, as French mailers write
        mail("RE: Plainte"),
        id="subject-nbsp",
    ),
    pytest.param(
        '{ body = "formateur absent" }',
        mail("Bonjour", text="Le FORMATEUR absent depuis lundi."),
        mail("formateur absent", text="Tout va bien."),
        id="body",
    ),
    pytest.param(
        r'{ from = "@exemple\\.fr$" }',
        mail(sender="marie.durand@exemple.fr"),
        mail(sender="marie@exemple.fr.autre.com"),
        id="from",
    ),
    pytest.param(
        '{ from = "." }',
        mail(sender="a@b.fr"),
        mail(sender=None),
        id="from-no-sender",
    ),
    pytest.param(
        r'{ to = "^reclamations@" }',
        mail(to=("contact@organisme.fr",), cc=("reclamations@organisme.fr",)),
        mail(to=("contact@organisme.fr",), reply_to=("reclamations@organisme.fr",)),
        id="to-or-cc",
    ),
    pytest.param(
        r'{ to = "^contact@" }',
        mail(to=("direction@organisme.fr", "contact@organisme.fr")),
        mail(to=("direction@organisme.fr",)),
        id="to-any-address",
    ),
    pytest.param(
        '{ header = { name = "Auto-Submitted", matches = "^auto-" } }',
        mail(headers={"auto-submitted": ("no", "Auto-Replied")}),
        mail(headers={"auto-submitted": ("no",)}),
        id="header-matches-any-value",
    ),
    pytest.param(
        '{ header = { name = "List-Id" } }',
        mail(headers={"list-id": ("<news.exemple.fr>",)}),
        mail(headers={"list-unsubscribe": ("<mailto:x@exemple.fr>",)}),
        id="header-presence",
    ),
    pytest.param(
        '{ subject_tag = "ALEA" }',
        mail("[ALÉA] Salle inaccessible"),
        mail("ALEA sans crochets"),
        id="subject-tag",
    ),
    pytest.param(
        '{ subject_tag = "Aléa" }',
        mail("TR: [ a l e a ] vidéoprojecteur en panne"),
        mail("[ALEAS] pluriel"),
        id="subject-tag-spaces",
    ),
    pytest.param(
        '{ subject_tag = "ALEA" }',
        mail("[alea]"),
        mail("[ALEA sans fermeture"),
        id="subject-tag-unclosed",
    ),
    pytest.param(
        "{ has_attachment = true }",
        mail(attachments=2),
        mail(attachments=0),
        id="has-attachment-true",
    ),
    pytest.param(
        "{ has_attachment = false }",
        mail(attachments=0),
        mail(attachments=1),
        id="has-attachment-false",
    ),
    pytest.param(
        "{ from_director = true }",
        RuleContext(mail(), from_director=True),
        RuleContext(mail()),
        id="from-director",
    ),
    pytest.param(
        "{ known_case = true }",
        RuleContext(mail(), known_case=True),
        RuleContext(mail(), from_director=True, automatic=True),
        id="known-case",
    ),
    pytest.param(
        "{ automatic = false }",
        RuleContext(mail(), automatic=False),
        RuleContext(mail(), automatic=True),
        id="automatic-false",
    ),
    pytest.param(
        "{ web_form = true }",
        RuleContext(mail(), web_form=True),
        RuleContext(mail(), from_director=True, known_case=True, automatic=True),
        id="web-form",
    ),
]


@pytest.mark.parametrize(("when", "matching", "other"), LEAF_CASES)
def test_leaf_matches_and_does_not(
    tmp_path: Path, when: str, matching: RuleContext | ParsedMail, other: RuleContext | ParsedMail
) -> None:
    rules = one_rule(tmp_path, when)
    assert holds(rules, matching)
    assert not holds(rules, other)


def test_every_key_of_the_grammar_is_tested() -> None:
    """A leaf added to CONDITIONS without a test here should not go unnoticed."""
    tested = {"all", "any", "not"}
    for case in LEAF_CASES:
        when = str(case.values[0])
        tested.update(key for key in rules_module.CONDITIONS if f"{{ {key} =" in when)
    assert tested == set(rules_module.CONDITIONS)


# --- composites -----------------------------------------------------------------------------------


def test_all_any_not_nest(tmp_path: Path) -> None:
    rules = one_rule(
        tmp_path,
        """{ all = [
            { any = [{ subject_tag = "ALEA" }, { subject = "panne" }] },
            { not = { any = [{ automatic = true }, { from = "@spam\\\\.fr$" }] } },
        ] }""".replace("\n", " "),
    )
    assert holds(rules, mail("[ALEA] salle"))
    assert holds(rules, mail("Vidéoprojecteur en PANNE"))
    assert not holds(rules, mail("Bonjour"))  # neither branch of the any
    assert not holds(rules, RuleContext(mail("[ALEA] salle"), automatic=True))  # not
    assert not holds(rules, mail("panne", sender="x@spam.fr"))  # not, second branch


def test_several_keys_in_one_table_must_all_hold(tmp_path: Path) -> None:
    rules = one_rule(tmp_path, '{ from_director = true, subject_tag = "ORAL" }')
    assert holds(rules, RuleContext(mail("[ORAL] appel"), from_director=True))
    assert not holds(rules, RuleContext(mail("[ORAL] appel")))
    assert not holds(rules, RuleContext(mail("appel"), from_director=True))


def test_not_of_a_leaf(tmp_path: Path) -> None:
    rules = one_rule(tmp_path, "{ not = { has_attachment = true } }")
    assert holds(rules, mail())
    assert not holds(rules, mail(attachments=1))


# --- loading, ordering, overriding ----------------------------------------------------------------


def test_when_may_be_a_sub_table_and_enums_are_folded(tmp_path: Path) -> None:
    write(
        tmp_path,
        "10-a.toml",
        """
        [[rule]]
        name = "x"
        kind = "Réclamation"
        nature = "MATÉRIELLE"
        priority = "Haute"
        channel = "Third_Party"
        action = "Triage"
        description = "une description"

        [rule.when]
        subject = "salle"
        """,
    )
    rules = load_rules([tmp_path])
    verdict = rules.evaluate(RuleContext(mail("Salle fermée")))
    assert verdict == Verdict(
        action="triage",
        kind="reclamation",
        nature="materielle",
        priority="haute",
        channel="third_party",
        hits=("10-a.toml:x",),
    )
    (rule,) = rules
    assert rule.description == "une description"
    assert rule.label == "10-a.toml:x"
    assert rule.stop is False
    assert rule.matches(RuleContext(mail("salle")))
    assert not rule.matches(RuleContext(mail("jardin")))


def rule_file(*names: str, when: str = "{ subject = '' }", action: str = "claim") -> str:
    return "".join(f'[[rule]]\nname = "{name}"\nwhen = {when}\naction = "{action}"\n\n' for name in names)


def test_override_file_by_file_and_order_by_file_name(tmp_path: Path) -> None:
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    write(shipped, "10-a.toml", rule_file("a1", "a2"))
    write(shipped, "20-b.toml", rule_file("shipped-b"))
    write(shipped, "30-c.toml", rule_file("c"))
    write(user, "20-b.toml", rule_file("user-b"))
    write(user, "05-first.toml", rule_file("first"))
    write(user, "15-between.toml", rule_file("between"))
    write(user, "notes.txt", "not a rule file")

    rules = load_rules([shipped, user])

    assert rules.files == (
        user / "05-first.toml",
        shipped / "10-a.toml",
        user / "15-between.toml",
        user / "20-b.toml",
        shipped / "30-c.toml",
    )
    assert len(rules) == 6
    assert rules.evaluate(RuleContext(mail())).hits == (
        "05-first.toml:first",
        "10-a.toml:a1",
        "10-a.toml:a2",
        "15-between.toml:between",
        "20-b.toml:user-b",
        "30-c.toml:c",
    )


def test_directory_priority_is_the_order_given(tmp_path: Path) -> None:
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    write(shipped, "20-b.toml", rule_file("shipped-b"))
    write(user, "20-b.toml", rule_file("user-b"))
    assert load_rules([user, shipped]).evaluate(RuleContext(mail())).hits == ("20-b.toml:shipped-b",)


def test_an_empty_file_disables_the_shipped_one(tmp_path: Path) -> None:
    user = tmp_path / "user"
    write(user, "40-complaint-words.toml", "# désactivé\n")
    rules = load_rules([SHIPPED, user])
    assert rules.evaluate(RuleContext(mail("Réclamation"))).hits == ()
    assert user / "40-complaint-words.toml" in rules.files


def test_no_directories_no_rules() -> None:
    rules = load_rules([])
    assert len(rules) == 0
    assert rules.files == ()
    assert rules.evaluate(RuleContext(mail("Réclamation"))) == Verdict(None, None, None, None, None, ())


def test_first_hit_sets_each_field(tmp_path: Path) -> None:
    write(
        tmp_path,
        "10-a.toml",
        """
        [[rule]]
        name = "priority-only"
        when = { subject = "urgent" }
        priority = "urgente"

        [[rule]]
        name = "claim"
        when = { subject = "plainte" }
        action = "claim"
        kind = "reclamation"
        priority = "basse"

        [[rule]]
        name = "nature"
        when = { subject = "plainte" }
        action = "ignore"
        nature = "humaine"
        channel = "email"
        """,
    )
    rules = load_rules([tmp_path])
    assert rules.evaluate(RuleContext(mail("URGENT plainte"))) == Verdict(
        action="claim",
        kind="reclamation",
        nature="humaine",
        priority="urgente",
        channel="email",
        hits=("10-a.toml:priority-only", "10-a.toml:claim", "10-a.toml:nature"),
    )
    # Without the first hit, the second one sets the priority.
    assert rules.evaluate(RuleContext(mail("plainte"))).priority == "basse"


def test_stop_ends_evaluation_only_when_it_hits(tmp_path: Path) -> None:
    write(
        tmp_path,
        "10-a.toml",
        """
        [[rule]]
        name = "newsletter"
        when = { header = { name = "List-Id" } }
        action = "ignore"
        stop = true
        """,
    )
    write(tmp_path, "20-b.toml", rule_file("later", when='{ subject = "plainte" }'))
    write(
        tmp_path,
        "30-c.toml",
        rule_file("kind", when='{ subject = "plainte" }').replace('action = "claim"', 'kind = "reclamation"'),
    )
    rules = load_rules([tmp_path])

    stopped = rules.evaluate(RuleContext(mail("plainte", headers={"list-id": ("<l>",)})))
    assert stopped == Verdict("ignore", None, None, None, None, ("10-a.toml:newsletter",))

    went_on = rules.evaluate(RuleContext(mail("plainte")))
    assert went_on == Verdict("claim", "reclamation", None, None, None, ("20-b.toml:later", "30-c.toml:kind"))


def test_the_subject_is_folded_once_per_evaluation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        tmp_path,
        "10-a.toml",
        rule_file("a", "b", "c", when='{ subject = "x" }') + rule_file("d", "e", when='{ subject_tag = "X" }'),
    )
    rules = load_rules([tmp_path])
    folded: list[str] = []

    def counting_fold(text: str) -> str:
        folded.append(text)
        return fold(text)

    monkeypatch.setattr("inboxbot.domain.rules.fold", counting_fold)
    verdict = rules.evaluate(RuleContext(mail("[X] sujet", text="le corps")))
    assert len(verdict.hits) == 5
    assert folded == ["[X] sujet"]  # once, and the unused body not at all


# --- errors ---------------------------------------------------------------------------------------

ERROR_CASES = [
    # (file content, key path or None, text the reason must contain)
    pytest.param(
        """
        [[rule]]
        name = "ok"
        when = { subject = "a" }
        action = "claim"

        [[rule]]
        name = "bad"
        when = { any = [{ subject = "(ab" }] }
        action = "claim"
        """,
        "rule[1].when.any[0].subject",
        "invalid regular expression: missing ), unterminated subpattern at position 0",
        id="bad-regex",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = { header = { name = "X-A", matches = "[é" } }
        action = "claim"
        """,
        "rule[0].when.header.matches",
        "invalid regular expression: unterminated character set at position 0",
        id="bad-regex-in-header",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = { subject = "a" }
        acton = "claim"
        """,
        "rule[0].acton",
        "unknown key (did you mean 'action'?",
        id="unknown-rule-key",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = { all = [{ subjet = "a" }] }
        action = "claim"
        """,
        "rule[0].when.all[0].subjet",
        "unknown condition (did you mean 'subject'?",
        id="unknown-leaf",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = { subject = "a" }
        kind = "plainte"
        """,
        "rule[0].kind",
        "'plainte' is not one of reclamation, difficulte, alea",
        id="bad-enum",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = { subject = "a" }
        priority = 3
        """,
        "rule[0].priority",
        "expected one of basse, normale, haute, urgente, got an integer",
        id="enum-wrong-type",
    ),
    pytest.param(
        """
        [[rule]]
        when = { subject = "a" }
        action = "claim"
        """,
        "rule[0].name",
        "required key is missing",
        id="missing-name",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        action = "claim"
        """,
        "rule[0].when",
        "required key is missing",
        id="missing-when",
    ),
    pytest.param(
        """
        [[rule]]
        name = "same"
        when = { subject = "a" }
        action = "claim"

        [[rule]]
        name = "other"
        when = { subject = "a" }
        action = "claim"

        [[rule]]
        name = "same"
        when = { subject = "b" }
        action = "ignore"
        """,
        "rule[2].name",
        "duplicate rule name 'same' (already used by rule[0])",
        id="duplicate-name",
    ),
    pytest.param(
        """
        [[rule]]
        name = "a:b"
        when = { subject = "a" }
        action = "claim"
        """,
        "rule[0].name",
        "may not contain ':'",
        id="colon-in-name",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = {}
        action = "claim"
        """,
        "rule[0].when",
        "empty condition",
        id="empty-condition",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = { any = [{ subject = "a" }, { not = {} }] }
        action = "claim"
        """,
        "rule[0].when.any[1].not",
        "empty condition",
        id="empty-nested-condition",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = { all = [] }
        action = "claim"
        """,
        "rule[0].when.all",
        "empty array of conditions",
        id="empty-all",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = { any = { subject = "a" } }
        action = "claim"
        """,
        "rule[0].when.any",
        "expected an array of conditions, got a table",
        id="any-not-an-array",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = "réclamation"
        action = "claim"
        """,
        "rule[0].when",
        "expected a condition (a table), got a string",
        id="when-not-a-table",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = { has_attachment = "yes" }
        action = "claim"
        """,
        "rule[0].when.has_attachment",
        "expected true or false, got a string",
        id="flag-wrong-type",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = { subject = 3 }
        action = "claim"
        """,
        "rule[0].when.subject",
        "expected a regular expression (a string), got an integer",
        id="regex-wrong-type",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = { header = { matches = "a" } }
        action = "claim"
        """,
        "rule[0].when.header.name",
        "required key is missing",
        id="header-without-name",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = { header = { name = "X-A", match = "a" } }
        action = "claim"
        """,
        "rule[0].when.header.match",
        "unknown key (did you mean 'matches'?",
        id="header-unknown-key",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = { subject_tag = "[ALEA]" }
        action = "claim"
        """,
        "rule[0].when.subject_tag",
        'write the tag without brackets: "ALEA"',
        id="tag-with-brackets",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = { subject = "a" }
        stop = "true"
        action = "claim"
        """,
        "rule[0].stop",
        "expected true or false, got a string",
        id="stop-wrong-type",
    ),
    pytest.param(
        """
        [[rule]]
        name = "x"
        when = { subject = "a" }
        stop = true
        """,
        "rule[0]",
        "the rule sets none of action, kind, nature, priority, channel",
        id="sets-nothing",
    ),
    pytest.param(
        """
        [[rules]]
        name = "x"
        """,
        "rules",
        "unknown key: a rule file holds only [[rule]] tables",
        id="unknown-top-level-key",
    ),
    pytest.param(
        """
        [rule]
        name = "x"
        """,
        "rule",
        "expected [[rule]] tables, got a table",
        id="rule-not-an-array",
    ),
]


@pytest.mark.parametrize(("content", "key", "reason"), ERROR_CASES)
def test_errors_name_the_file_and_the_key(tmp_path: Path, content: str, key: str, reason: str) -> None:
    path = write(tmp_path, "30-incidents.toml", content)
    with pytest.raises(RuleError) as caught:
        load_rules([tmp_path])
    error = caught.value
    assert error.path == path
    assert error.key == key
    assert reason in error.reason
    assert str(error) == f"{path}: {key}: {error.reason}"


def test_toml_syntax_error_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "20-incidents.toml",
        """\
        [[rule]]
        name = "x"
        when = { subject = "a"
        action = "claim"
        """,
    )
    with pytest.raises(RuleError) as caught:
        load_rules([tmp_path])
    assert caught.value.path == path
    assert caught.value.key is None
    assert str(caught.value).startswith(f"{path}: invalid TOML: ")
    assert "line 3" in str(caught.value)


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "10-a.toml"
    path.write_bytes('[[rule]]\nname = "réclamation"\n'.encode("latin-1"))
    with pytest.raises(RuleError, match="not UTF-8") as caught:
        load_rules([tmp_path])
    assert caught.value.path == path


def test_a_bad_file_is_never_skipped_and_loading_stops_at_the_first(tmp_path: Path) -> None:
    write(tmp_path, "10-good.toml", rule_file("good"))
    write(tmp_path, "20-bad.toml", rule_file("bad", when="{ nope = true }"))
    write(tmp_path, "30-worse.toml", "this is not TOML")
    with pytest.raises(RuleError) as caught:
        load_rules([tmp_path])
    assert caught.value.path == tmp_path / "20-bad.toml"
    assert caught.value.key == "rule[0].when.nope"


def test_an_overridden_bad_file_is_not_read(tmp_path: Path) -> None:
    write(tmp_path / "shipped", "10-a.toml", "this is not TOML")
    write(tmp_path / "user", "10-a.toml", rule_file("fixed"))
    rules = load_rules([tmp_path / "shipped", tmp_path / "user"])
    assert [rule.label for rule in rules] == ["10-a.toml:fixed"]


def test_dot_files_and_directories_are_ignored_but_broken_links_are_not(tmp_path: Path) -> None:
    write(tmp_path, "10-a.toml", rule_file("a"))
    (tmp_path / ".#10-a.toml").symlink_to(tmp_path / "editor-lock-target-that-does-not-exist")
    write(tmp_path, ".hidden.toml", "this is not TOML")
    (tmp_path / "old.toml").mkdir()
    assert [rule.label for rule in load_rules([tmp_path])] == ["10-a.toml:a"]

    (tmp_path / "20-b.toml").symlink_to(tmp_path / "missing.toml")
    with pytest.raises(RuleError, match="cannot read the file") as caught:
        load_rules([tmp_path])
    assert caught.value.path == tmp_path / "20-b.toml"


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="not a directory") as caught:
        load_rules([SHIPPED, tmp_path / "absent"])
    assert caught.value.path == tmp_path / "absent"


def test_a_single_path_instead_of_a_sequence_is_refused() -> None:
    with pytest.raises(TypeError):
        load_rules(SHIPPED)  # type: ignore[arg-type]


# --- the shipped rules ----------------------------------------------------------------------------

COMPLAINT = "40-complaint-words.toml:complaint-word-in-subject"
FORWARD = "30-director-forward.toml:forwarded-claim"


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    return load_rules([SHIPPED])


def test_the_shipped_rules_load(shipped: RuleSet) -> None:
    assert [path.name for path in shipped.files] == [
        "10-known-case.toml",
        "20-incidents.toml",
        "30-director-forward.toml",
        "40-complaint-words.toml",
        "50-web-forms.toml",
    ]
    assert len(shipped) == 8


@pytest.mark.parametrize(
    ("subject", "facts", "expected"),
    [
        pytest.param(
            "RE : Réclamation concernant la formation",
            {},
            Verdict("claim", "reclamation", None, None, None, (COMPLAINT,)),
            id="reclamation-reply",
        ),
        pytest.param(
            "RE\u00a0: RECLAMATIONS sur la session de mai",
            {},
            Verdict("claim", "reclamation", None, None, None, (COMPLAINT,)),
            id="reclamations-upper-nbsp",
        ),
        pytest.param(
            "Plainte : retard du formateur",
            {},
            Verdict("claim", "reclamation", None, None, None, (COMPLAINT,)),
            id="plainte",
        ),
        pytest.param(
            "Dépôt de plaintes",
            {},
            Verdict("claim", "reclamation", None, None, None, (COMPLAINT,)),
            id="plaintes",
        ),
        pytest.param(
            "[ALÉA] Salle inaccessible ce matin",
            {},
            Verdict("incident", "alea", None, None, None, ("20-incidents.toml:alea-tag",)),
            id="alea",
        ),
        pytest.param(
            "[Difficulté] un stagiaire ne suit pas",
            {},
            Verdict("incident", "difficulte", None, None, None, ("20-incidents.toml:difficulte-tag",)),
            id="difficulte",
        ),
        pytest.param(
            "TR: [RECLAMATION] plainte d'un stagiaire",
            {"from_director": True},
            Verdict("claim", "reclamation", None, None, "third_party", (FORWARD, COMPLAINT)),
            id="director-forward",
        ),
        pytest.param(
            "TR: [RECLAMATION] plainte d'un stagiaire",
            {},
            Verdict("claim", "reclamation", None, None, None, (COMPLAINT,)),
            id="forward-not-from-director",
        ),
        pytest.param(
            "[Oral] appel de Mme Martin au sujet de la salle",
            {"from_director": True},
            Verdict("claim", "reclamation", None, None, "oral", ("30-director-forward.toml:oral-claim",)),
            id="director-oral",
        ),
        pytest.param("[ORAL] appel", {}, Verdict(None, None, None, None, None, ()), id="oral-not-director"),
        pytest.param(
            "RE: [ALEA] réclamation sur la salle",
            {"known_case": True},
            Verdict("claim", None, None, None, None, ("10-known-case.toml:known-case-reply",)),
            id="known-case-stops",
        ),
        pytest.param(
            "[ALÉAS] vidéoprojecteur en panne",
            {},
            Verdict("incident", "alea", None, None, None, ("20-incidents.toml:alea-tag",)),
            id="aleas",
        ),
        pytest.param(
            "[Incident] Salle B inondée",
            {},
            Verdict("incident", "alea", None, None, None, ("20-incidents.toml:alea-tag",)),
            id="incident",
        ),
        pytest.param(
            "[DIFFICULTES] groupe difficile",
            {},
            Verdict("incident", "difficulte", None, None, None, ("20-incidents.toml:difficulte-tag",)),
            id="difficultes",
        ),
        pytest.param(
            "Nouvelle réclamation via le formulaire",
            {"web_form": True},
            Verdict(
                "claim",
                "reclamation",
                None,
                None,
                "form",
                (COMPLAINT, "50-web-forms.toml:web-form-complaint", "50-web-forms.toml:web-form"),
            ),
            id="web-form-complaint",
        ),
        pytest.param(
            "Nouveau message de « Cafémétrie »",
            {"web_form": True},
            Verdict(None, None, None, None, "form", ("50-web-forms.toml:web-form",)),
            id="web-form-other",
        ),
        pytest.param(
            "La complainte du formateur",
            {},
            Verdict(None, None, None, None, None, ()),
            id="complainte",
        ),
        pytest.param(
            "Newsletter de mars : nos nouvelles formations en management",
            {"automatic": True},
            Verdict(None, None, None, None, None, ()),
            id="newsletter",
        ),
        pytest.param(
            "Réclamez votre attestation de formation",
            {},
            Verdict(None, None, None, None, None, ()),
            id="reclamez",
        ),
    ],
)
def test_the_shipped_rules_classify(shipped: RuleSet, subject: str, facts: dict[str, bool], expected: Verdict) -> None:
    ctx = RuleContext(mail(subject, sender="marie.durand@exemple.fr"), **facts)
    assert shipped.evaluate(ctx) == expected
