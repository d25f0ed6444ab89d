"""Every spelling of one mailbox folds to one key, so the acknowledgement cap counts people."""

import pytest

from inboxbot.domain.mailboxes import mailbox_key
from inboxbot.domain.text import clamp


@pytest.mark.parametrize(
    "spelling",
    ["lea.martin@gmail.com", "Lea.Martin@GMAIL.com", "leamartin+promo@gmail.com", "l.e.a.martin@googlemail.com"],
)
def test_gmail_spellings_are_one_mailbox(spelling: str) -> None:
    assert mailbox_key(spelling) == "leamartin@gmail.com"


def test_tags_and_case_fold_elsewhere_but_dots_count() -> None:
    assert mailbox_key("Lea.Martin+1@Example.FR") == "lea.martin@example.fr"
    assert mailbox_key("lea.martin@example.fr") != mailbox_key("leamartin@example.fr")
    assert mailbox_key("+@example.fr") == "+@example.fr"  # nothing before the tag: kept as written
    assert mailbox_key("not an address") == "not an address"


def test_clamp_keeps_short_text_and_cuts_long_text_on_one_line() -> None:
    assert clamp("Réclamation : salle", 120) == "Réclamation : salle"
    long = clamp("a\r\nb " * 200, 50)
    assert len(long) == 50 and long.endswith("…") and "\n" not in long
