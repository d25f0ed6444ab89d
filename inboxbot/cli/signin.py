"""`inboxbot auth`: the first OAuth2 sign-in, which gives the refresh token everything else lives on.

Two ways, as the providers allow them:
- device code (Microsoft): inboxbot shows a short code; the account's owner types it at the
  provider's page on any device. Nothing has to reach this machine, so it works on a server.
- loopback redirect with PKCE (Google, whose device flow refuses the mail scope): inboxbot listens
  on 127.0.0.1, the browser is sent back there with a one-time code, and the code is exchanged
  together with the secret half of the PKCE pair, so a code caught on the way is worthless.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from inboxbot.adapters.oauth import OAuthError, SavedToken, TokenEndpointError, TokenSource, post_form
from inboxbot.config import OAuthSettings

FLOWS = ("device", "loopback")

# What the browser shows after the redirect: the person there may be the director, so French first.
_DONE_PAGE = "<!doctype html><meta charset='utf-8'><title>inboxbot</title><p>{french}</p><p lang='en'>{english}</p>"


def default_flow(settings: OAuthSettings) -> str:
    if settings.provider == "google":
        return "loopback"
    if settings.provider == "microsoft":
        return "device"
    return "device" if settings.device_url else "loopback"


def _client_form(settings: OAuthSettings) -> dict[str, str]:
    form = {"client_id": settings.client_id}
    if settings.client_secret:
        form["client_secret"] = settings.client_secret
    return form


def device_flow(
    tokens: TokenSource,
    say: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> SavedToken:
    """RFC 8628: show the code, poll the token endpoint until the owner approved, save the tokens."""
    s = tokens.settings
    if not s.device_url:
        raise OAuthError("oauth2.device_url: needed for the device-code sign-in (or use --flow loopback)")
    try:
        start = post_form(s.device_url, {"client_id": s.client_id, "scope": " ".join(s.scopes)}, s.timeout)
    except TokenEndpointError as exc:
        raise OAuthError(f"oauth2: the provider refused to start a device sign-in ({exc})") from None
    device_code = start.get("device_code")
    user_code = start.get("user_code")
    # Microsoft says verification_uri (RFC 8628), Google verification_url.
    page = start.get("verification_uri") or start.get("verification_url")
    if not isinstance(device_code, str) or not isinstance(user_code, str) or not isinstance(page, str):
        raise OAuthError("oauth2: the device endpoint answered without device_code, user_code or verification_uri")
    say(f"Sign in as the mailbox's owner: open {page} and enter the code {user_code}")
    say("Waiting for the sign-in to be approved…")
    interval = max(float(start.get("interval", 5)), 1.0)
    deadline = time.monotonic() + float(start.get("expires_in", 900))
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": device_code}
    form.update(_client_form(s))
    while time.monotonic() < deadline:
        sleep(interval)
        try:
            answer = post_form(s.token_url, form, s.timeout)
        except TokenEndpointError as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += 5
                continue
            if exc.error == "access_denied":
                raise OAuthError("oauth2: the sign-in was declined at the provider's page") from None
            if exc.error == "expired_token":
                break
            raise OAuthError(f"oauth2: the device sign-in failed ({exc})") from None
        return tokens.save_grant(answer)
    raise OAuthError(f"oauth2: the code {user_code} expired before the sign-in was approved; run the command again")


@dataclass
class _Redirect:
    params: dict[str, str] | None = None


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43-128
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=")
    return verifier, challenge.decode("ascii")


def loopback_flow(
    tokens: TokenSource,
    say: Callable[[str], None],
    port: int = 0,
    login_hint: str | None = None,
    timeout: float = 600.0,
) -> SavedToken:
    """RFC 8252 with PKCE: print the sign-in address, wait for the browser's redirect, exchange the code."""
    s = tokens.settings
    if not s.authorize_url:
        raise OAuthError("oauth2.authorize_url: needed for the browser sign-in (or use --flow device)")
    verifier, challenge = _pkce_pair()
    state = secrets.token_urlsafe(24)
    received = _Redirect()
    arrived = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            if "code" not in query and "error" not in query:
                self.send_error(404)  # a favicon, a stray visitor: keep waiting
                return
            ok = "code" in query and query.get("state") == state
            page = _DONE_PAGE.format(
                french="Connexion réussie : vous pouvez fermer cette fenêtre." if ok else "La connexion a échoué.",
                english="inboxbot is signed in; you may close this window." if ok else "The sign-in failed.",
            )
            body = page.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            if received.params is None:
                received.params = query
                arrived.set()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass  # the code is in the request line: keep it out of the terminal

    try:
        server = HTTPServer(("127.0.0.1", port), Handler)
    except OSError as exc:
        raise OAuthError(f"oauth2: cannot listen on 127.0.0.1:{port} for the sign-in: {exc.strerror}") from None
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/"
    query = {
        "response_type": "code",
        "client_id": s.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(s.scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if s.provider == "google":
        # Without these Google gives no refresh token on a second sign-in, and nothing to live on.
        query.update(access_type="offline", prompt="consent")
    if login_hint:
        query["login_hint"] = login_hint
    separator = "&" if "?" in s.authorize_url else "?"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    try:
        say("Open this address in a browser and sign in as the mailbox's owner:")
        say(f"{s.authorize_url}{separator}{urllib.parse.urlencode(query)}")
        say(f"Waiting for the browser to come back to {redirect_uri} …")
        if not arrived.wait(timeout):
            raise OAuthError(f"oauth2: no sign-in came back within {timeout:.0f} s; run the command again")
    finally:
        server.shutdown()
        server.server_close()
    params = received.params or {}
    if "error" in params:
        detail = params.get("error_description", "")
        raise OAuthError(f"oauth2: the sign-in was refused ({params['error']}{': ' + detail if detail else ''})")
    if params.get("state") != state:
        raise OAuthError("oauth2: the browser came back with a foreign sign-in (state mismatch); run the command again")
    form = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    form.update(_client_form(s))
    try:
        answer = post_form(s.token_url, form, s.timeout)
    except TokenEndpointError as exc:
        raise OAuthError(f"oauth2: the provider refused the sign-in code ({exc})") from None
    return tokens.save_grant(answer)
