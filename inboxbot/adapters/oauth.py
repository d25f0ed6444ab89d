"""OAuth2 access tokens for XOAUTH2 logins: kept in a token file, refreshed before they expire.

Google and Microsoft 365 no longer accept a password for IMAP and SMTP: the login carries a
short-lived access token (about an hour), obtained from a long-lived refresh token. Microsoft
rotates the refresh token at every refresh and the old one stops working some time later; a
helpdesk that keeps using the refresh token from its config goes silent after about 90 days.
So every token response is written to the token file at once, before the token is used, and the
refresh token saved there wins over the one in the config: unless the config's refresh token
changed since (someone pasted a new one), which the file notices by a fingerprint of it.

The token endpoint is spoken to with the standard library: a refresh is one form POST and one JSON
answer, and the libraries that do it (authlib, requests-oauthlib) would bring cryptography, JOSE
and requests along for nothing this module needs.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from inboxbot.adapters.private import replaced_whole
from inboxbot.config import OAuthSettings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Refresh this long before the expiry the provider announced: a login started with a token that
# expires while the server checks it would fail for nothing.
REFRESH_MARGIN = timedelta(minutes=5)
DEFAULT_LIFETIME = timedelta(hours=1)  # when a token response says nothing about expiry


def system_clock() -> datetime:
    return datetime.now(UTC)


class OAuthError(Exception):
    """A token problem, phrased for the person who set up the account."""


class ReauthRequired(OAuthError):
    """No usable refresh token: only signing in again (`inboxbot auth`) helps."""


class TokenEndpointError(OAuthError):
    """The provider answered a token request with an OAuth2 error (RFC 6749 section 5.2)."""

    def __init__(self, error: str, description: str, status: int) -> None:
        self.error = error
        self.description = description
        self.status = status
        super().__init__(f"{error}: {description}" if description else error)


def auth_command(settings: OAuthSettings) -> str:
    return f"inboxbot auth {settings.provider}"


def fingerprint(secret: str | None) -> str:
    """Tells whether the config's refresh token changed, without writing it down a second time."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16] if secret else ""


@dataclass(frozen=True)
class SavedToken:
    refresh_token: str
    client_id: str
    seed: str  # fingerprint of the config refresh token this one descends from ("" if none)
    access_token: str | None = None
    expires_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        return self.access_token is not None and self.expires_at is not None and now < self.expires_at - REFRESH_MARGIN


def read_token_file(path: Path) -> SavedToken | None:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OAuthError(f"oauth2.token_file: cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw)
        expires = data.get("expires_at")
        return SavedToken(
            refresh_token=str(data["refresh_token"]),
            client_id=str(data["client_id"]),
            seed=str(data.get("seed", "")),
            access_token=data.get("access_token"),
            expires_at=datetime.fromisoformat(expires) if expires else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise OAuthError(
            f"oauth2.token_file: {path} is damaged; delete it and sign in again (inboxbot auth google|microsoft)"
        ) from None


def write_token_file(path: Path, token: SavedToken) -> None:
    """Replace the token file in one step, readable by this user only.

    Written beside the target then renamed, so a crash leaves either the old file or the new one,
    never half of one; the new refresh token may be the only one that still works.
    """
    data = {
        "client_id": token.client_id,
        "seed": token.seed,
        "refresh_token": token.refresh_token,
        "access_token": token.access_token,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }
    try:
        with replaced_whole(path, durable=True) as temporary:
            temporary.write_text(json.dumps(data, indent=2), encoding="utf-8")
    except OSError as exc:
        raise OAuthError(f"oauth2.token_file: cannot write {path}: {exc.strerror}") from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One refresh at a time across processes (the daemon and `inboxbot check`, say).

    Two processes refreshing with the same refresh token at once would each get a new one from a
    provider that rotates them, and one of the two would be lost: the second waits, then finds the
    first one's fresh token in the file.
    """
    lock_path = path.with_name(f".{path.name}.lock")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Never through a symlink: that would create or lock a file of someone else's choosing.
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        handle = os.fdopen(descriptor, "a+b")
    except OSError as exc:
        raise OAuthError(f"oauth2.token_file: cannot use {path.parent}: {exc.strerror}") from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def post_form(url: str, form: Mapping[str, str], timeout: float) -> dict[str, Any]:
    """POST a form to an OAuth2 endpoint and return its JSON answer; OAuth2 errors are raised.

    The HTTP client is imported here: the IMAP adapter imports this module, and an idle cycle with
    a password (or a token still valid) makes no request."""
    import urllib.error
    import urllib.parse
    import urllib.request

    body = urllib.parse.urlencode(form).encode("ascii")
    request = urllib.request.Request(
        url, data=body, headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
    )
    where = urllib.parse.urlsplit(url)._replace(query="", fragment="").geturl()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OAuthError(f"oauth2: cannot reach {where}: {reason}") from None
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise OAuthError(f"oauth2: {where} answered HTTP {status} without a JSON object")
    if status >= 400 or "error" in data:
        raise TokenEndpointError(
            str(data.get("error", f"HTTP {status}")), str(data.get("error_description", "")), status
        )
    return data


class TokenSource:
    """A valid access token on demand, for one OAuth2 account and its token file."""

    def __init__(self, settings: OAuthSettings, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock

    # -- what is known now ----------------------------------------------------------------

    def current(self) -> SavedToken | None:
        """The token file if it belongs to this client and config, else the config's refresh token."""
        s = self.settings
        seed = fingerprint(s.refresh_token)
        saved = read_token_file(s.token_file)
        if saved is not None and saved.client_id == s.client_id and saved.seed == seed:
            return saved
        if saved is not None:
            log.info("oauth2: %s is for another client id or refresh token; starting from the config", s.token_file)
        if s.refresh_token:
            return SavedToken(refresh_token=s.refresh_token, client_id=s.client_id, seed=seed)
        return None

    def access_token(self) -> str:
        """An access token that stays valid for at least REFRESH_MARGIN, refreshed if needed."""
        saved = self.current()
        if saved is not None and saved.usable_at(self.clock()):
            assert saved.access_token is not None
            return saved.access_token
        return self._refresh(rejected=None)

    def refreshed_after_rejection(self, rejected: str) -> str:
        """The server refused `rejected` before its expiry (revoked, or clocks apart): get another."""
        return self._refresh(rejected=rejected)

    def _refresh(self, rejected: str | None) -> str:
        s = self.settings
        with _locked(s.token_file):
            saved = self.current()  # again: another process may have refreshed meanwhile
            if saved is None:
                raise ReauthRequired(
                    f"oauth2: no refresh token yet: run `{auth_command(s)}` to sign in (or give oauth2.refresh_token)"
                )
            if saved.usable_at(self.clock()) and saved.access_token != rejected:
                assert saved.access_token is not None
                return saved.access_token
            form = {"grant_type": "refresh_token", "refresh_token": saved.refresh_token, "client_id": s.client_id}
            if s.client_secret:
                form["client_secret"] = s.client_secret
            if s.scopes and s.provider != "google":  # Microsoft wants them again; Google keeps the granted ones
                form["scope"] = " ".join(s.scopes)
            try:
                answer = post_form(s.token_url, form, s.timeout)
            except TokenEndpointError as exc:
                raise self._explain(exc) from None
            token = self._save(answer, saved.refresh_token, saved.seed)
        log.info("oauth2: access token refreshed, valid until %s", token.expires_at)
        assert token.access_token is not None
        return token.access_token

    def _explain(self, exc: TokenEndpointError) -> OAuthError:
        s = self.settings
        if exc.error == "invalid_grant":
            return ReauthRequired(
                f"oauth2: the {s.provider} sign-in has expired or was revoked ({exc}); "
                f"run `{auth_command(s)}` to sign in again"
            )
        if exc.error in ("invalid_client", "unauthorized_client"):
            return OAuthError(
                f"oauth2.client_id: the provider refused this client ({exc}); check oauth2.client_id and "
                "oauth2.client_secret against the app registration"
            )
        return OAuthError(f"oauth2: the token endpoint refused the refresh ({exc})")

    # -- saving ---------------------------------------------------------------------------

    def save_grant(self, answer: Mapping[str, Any]) -> SavedToken:
        """Keep the tokens of a first sign-in (`inboxbot auth`); they replace whatever was saved."""
        with _locked(self.settings.token_file):
            return self._save(answer, None, fingerprint(self.settings.refresh_token))

    def _save(self, answer: Mapping[str, Any], previous_refresh: str | None, seed: str) -> SavedToken:
        access = answer.get("access_token")
        if not isinstance(access, str) or not access:
            raise OAuthError("oauth2: the token endpoint answered without an access_token")
        refresh = answer.get("refresh_token") or previous_refresh  # not rotated: keep the one we have
        if not isinstance(refresh, str) or not refresh:
            raise OAuthError(
                "oauth2: the provider gave no refresh token, so inboxbot could not sign in again later "
                "(Microsoft: the scope offline_access is needed; Google: remove inboxbot's access in the "
                f"Google account's security settings, then run `{auth_command(self.settings)}` again)"
            )
        try:
            lifetime = timedelta(seconds=int(answer.get("expires_in", DEFAULT_LIFETIME.total_seconds())))
        except (TypeError, ValueError):
            lifetime = DEFAULT_LIFETIME
        token = SavedToken(
            refresh_token=refresh,
            client_id=self.settings.client_id,
            seed=seed,
            access_token=access,
            expires_at=self.clock() + lifetime,
        )
        write_token_file(self.settings.token_file, token)
        return token
