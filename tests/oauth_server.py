"""A loopback stand-in for an OAuth2 provider (Google, Microsoft 365), served by the test itself.

It speaks the parts inboxbot and Dovecot use, over real HTTP on 127.0.0.1:
- POST /token: refresh_token (rotating the refresh token at every use, the old one dead at once,
  which is stricter than Microsoft), authorization_code with PKCE S256, and device_code;
- POST /devicecode and GET /device?user_code=…&login=… (the person approving the code);
- GET /authorize: the browser's sign-in, answered by a redirect to the client's redirect_uri;
- GET /tokeninfo?access_token=…: who a token belongs to, for Dovecot's oauth2 passdb.

Tokens expire only when the test says so (expire_access_tokens, revoke), never by the clock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LIFETIME = 3600


@dataclass
class _Device:
    user_code: str
    scope: str
    user: str | None = None


@dataclass
class _Code:
    user: str
    redirect_uri: str
    challenge: str
    client_id: str


@dataclass
class OAuthStandIn:
    client_id: str = "inboxbot-test-client"
    client_secret: str = "inboxbot-test-secret"
    rotate: bool = True
    host: str = "127.0.0.1"
    port: int = 0
    access: dict[str, str] = field(default_factory=dict)  # live access token -> user
    refresh: dict[str, str] = field(default_factory=dict)  # live refresh token -> user
    grants: list[tuple[str, str]] = field(default_factory=list)  # (grant_type, user) of each token issued
    refused: list[tuple[str, str]] = field(default_factory=list)  # (grant_type, error)
    _devices: dict[str, _Device] = field(default_factory=dict)
    _codes: dict[str, _Code] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                stand_in._get(self)

            def do_POST(self) -> None:  # noqa: N802
                stand_in._post(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    # -- what the test does as the provider's administrator ----------------------------------

    def issue(self, user: str) -> tuple[str, str]:
        """Tokens for `user`, as if they had signed in: (access token, refresh token)."""
        with self._lock:
            return self._issue(user, "test")

    def valid(self, user: str, token: str) -> bool:
        with self._lock:
            return self.access.get(token) == user

    def expire_access_tokens(self) -> None:
        """Every access token reaches its end of life; refresh tokens stay good."""
        with self._lock:
            self.access.clear()

    def revoke(self, user: str) -> None:
        """The user (or their administrator) revoked inboxbot's access: every token dies."""
        with self._lock:
            for tokens in (self.access, self.refresh):
                for token in [t for t, u in tokens.items() if u == user]:
                    del tokens[token]

    def refreshes(self, user: str) -> int:
        with self._lock:
            return sum(1 for grant, who in self.grants if grant == "refresh_token" and who == user)

    # -- HTTP ---------------------------------------------------------------------------

    def _issue(self, user: str, grant: str) -> tuple[str, str]:
        access, refresh = f"at-{secrets.token_urlsafe(16)}", f"rt-{secrets.token_urlsafe(16)}"
        self.access[access] = user
        self.refresh[refresh] = user
        self.grants.append((grant, user))
        return access, refresh

    def _answer(self, handler: BaseHTTPRequestHandler, status: int, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _error(self, handler: BaseHTTPRequestHandler, grant: str, error: str, status: int = 400) -> None:
        self.refused.append((grant, error))
        self._answer(handler, status, {"error": error, "error_description": f"stand-in: {error}"})

    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(handler.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        with self._lock:
            if parts.path == "/tokeninfo":
                user = self.access.get(query.get("access_token", ""))
                if user is None:
                    self._answer(handler, 400, {"error": "invalid_token"})
                else:
                    self._answer(handler, 200, {"email": user, "scope": "https://mail.google.com/"})
            elif parts.path == "/device":
                for device in self._devices.values():
                    if device.user_code == query.get("user_code"):
                        device.user = query["login"]
                        self._answer(handler, 200, {"approved": device.user_code})
                        return
                self._answer(handler, 404, {"error": "no such code"})
            elif parts.path == "/authorize":
                ok = (
                    query.get("client_id") == self.client_id
                    and query.get("response_type") == "code"
                    and query.get("code_challenge_method") == "S256"
                    and query.get("redirect_uri", "").startswith("http://127.0.0.1:")
                    and "login_hint" in query
                )
                if not ok:
                    self._answer(handler, 400, {"error": "invalid_request"})
                    return
                code = f"code-{secrets.token_urlsafe(12)}"
                self._codes[code] = _Code(
                    query["login_hint"], query["redirect_uri"], query["code_challenge"], self.client_id
                )
                target = (
                    query["redirect_uri"]
                    + "?"
                    + urllib.parse.urlencode({"code": code, "state": query.get("state", "")})
                )
                handler.send_response(302)
                handler.send_header("Location", target)
                handler.send_header("Content-Length", "0")
                handler.end_headers()
            else:
                self._answer(handler, 404, {"error": "not found"})

    def _post(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(handler.rfile.read(length).decode()))
        path = urllib.parse.urlsplit(handler.path).path
        with self._lock:
            if path == "/devicecode":
                if form.get("client_id") != self.client_id:
                    self._error(handler, "devicecode", "invalid_client", 401)
                    return
                device_code, user_code = secrets.token_urlsafe(16), secrets.token_hex(4).upper()
                self._devices[device_code] = _Device(user_code, form.get("scope", ""))
                self._answer(
                    handler,
                    200,
                    {
                        "device_code": device_code,
                        "user_code": user_code,
                        "verification_uri": self.url("/device"),
                        "expires_in": 600,
                        "interval": 1,
                    },
                )
                return
            if path != "/token":
                self._answer(handler, 404, {"error": "not found"})
                return
            grant = form.get("grant_type", "")
            if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
                self._error(handler, grant, "invalid_client", 401)
                return
            user: str | None = None
            if grant == "refresh_token":
                old = form.get("refresh_token", "")
                user = self.refresh.get(old)
                if user is None:
                    self._error(handler, grant, "invalid_grant")
                    return
                if self.rotate:
                    del self.refresh[old]
            elif grant == "authorization_code":
                code = self._codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "").encode()
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
                if code is None or code.redirect_uri != form.get("redirect_uri") or code.challenge != challenge:
                    self._error(handler, grant, "invalid_grant")
                    return
                user = code.user
            elif grant == "urn:ietf:params:oauth:grant-type:device_code":
                device = self._devices.get(form.get("device_code", ""))
                if device is None:
                    self._error(handler, grant, "expired_token")
                    return
                if device.user is None:
                    self._answer(handler, 400, {"error": "authorization_pending"})
                    return
                del self._devices[form["device_code"]]
                user = device.user
            else:
                self._error(handler, grant, "unsupported_grant_type")
                return
            access, refresh = self._issue(user, grant)
            answer: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": LIFETIME}
            if self.rotate or grant != "refresh_token":
                answer["refresh_token"] = refresh
            else:
                del self.refresh[refresh]  # not rotating: the one the client has stays the only one
            self._answer(handler, 200, answer)
