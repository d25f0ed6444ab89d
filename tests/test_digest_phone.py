"""The digest read on a phone: in a real browser (headless Chromium) at a phone's width.

The digest of a busy morning (a claimant with a very long address and subject, a refused
acknowledgement quoting the server's long error) is rendered by the program as it would be mailed,
then opened 390 pixels wide, the width of a common phone. What she would suffer there is measured by
the browser itself: the page must never scroll sideways, and no command she copies may break across
two lines.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html import escape
from pathlib import Path

import pytest
from conftest import MailAccount
from e2e import account_config
from mails import make_mail
from servers import SmtpSink
from test_audit_site import CHROMIUM, chromium
from test_procedure import DIRECTOR, Bot

from inboxbot.bootstrap import build
from inboxbot.config import load
from inboxbot.procedure.digest import build_digest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)"),
]

LONG_ADDRESS = "jeanbaptiste.dupontlefevre.service.formation.continue@entreprisecliente.example.fr"
WIDTH, HEIGHT = 390, 844  # a common phone's screen, in CSS pixels
# The digest in a frame of the phone's size (a headless window is never narrower than 500 pixels),
# and a script that writes the browser's measures of it into the DOM the test reads back.
MEASURE = """<!DOCTYPE html><html><body style="margin: 0">
<iframe id="phone" width="{width}" height="{height}" style="border: 0" srcdoc="{digest}"></iframe>
<script>
document.getElementById("phone").addEventListener("load", (event) => {{
  const inner = event.target.contentWindow;
  const page = inner.document.documentElement;
  const codes = [...inner.document.querySelectorAll("code")];
  const broken = codes.filter((code) => code.getClientRects().length > 1);
  const size = parseFloat(inner.getComputedStyle(inner.document.querySelector("li")).fontSize);
  const out = document.createElement("p");
  out.id = "measures";
  out.textContent = `scroll=${{page.scrollWidth}} inner=${{inner.innerWidth}} broken=${{broken.length}} ` +
    `codes=${{codes.length}} font=${{size}}`;
  document.body.append(out);
}});
</script></body></html>"""


@pytest.fixture
def bot(tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink) -> Bot:
    made = Bot(account_config(tmp_path, mail_account, smtp_sink, address=DIRECTOR), mail_account, smtp_sink)
    made.cycle()  # first meeting with the empty mailbox
    return made


def test_the_digest_of_a_busy_morning_reads_on_a_phone_without_scrolling_sideways(bot: Bot, tmp_path: Path) -> None:
    bot.sink.refuse(550)  # the acknowledgement is refused for good, with the server's long error
    bot.account.append(
        make_mail(
            f"Jean-Baptiste Dupont-Lefèvre <{LONG_ADDRESS}>",
            DIRECTOR,
            "Réclamation concernant la formation Barista niveau 2 de la session de mars à Lyon : "
            "attestation jamais reçue malgré mes relances répétées auprès de votre secrétariat",
            "Je suis très déçu.",
        )
    )
    bot.cycle()
    bot.sink.accept()
    app = build(load(bot.config), clock=lambda: bot.now)
    try:
        digest = build_digest(app, bot.now + timedelta(seconds=1))
    finally:
        app.close()
    assert digest is not None and "Échecs d'envoi (1)" in digest.html  # the long lines are there
    page = tmp_path / "phone.html"
    page.write_text(MEASURE.format(width=WIDTH, height=HEIGHT, digest=escape(digest.html)), encoding="utf-8")

    found = re.search(
        r"scroll=(\d+) inner=(\d+) broken=(\d+) codes=(\d+) font=([\d.]+)", chromium("--dump-dom", page.as_uri())
    )
    assert found, "the page's measures were not written"
    scroll, inner, broken, codes, font = (float(value) for value in found.groups())
    assert scroll <= inner  # nothing wider than the screen
    assert codes >= 3 and broken == 0  # every command on one line, to copy as it is
    assert font >= 16  # read without zooming
    assert inner == WIDTH
    alone = tmp_path / "digest.html"
    alone.write_text(digest.html, encoding="utf-8")
    size = f"--window-size={WIDTH},{HEIGHT}"
    chromium(size, "--hide-scrollbars", f"--screenshot={tmp_path / 'digest.png'}", alone.as_uri())
    assert (tmp_path / "digest.png").stat().st_size > 0  # kept with the test's files, for a person to look at
