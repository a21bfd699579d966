"""Findings 4 and 10: brute-force and flood limits on the auth endpoints, and refresh tokens that can die."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

import httpx
import pytest

from tests.faults.conftest import LOGIN_LIMIT_PER_USERNAME, REGISTER_LIMIT_PER_ADDRESS, anonymous_client
from testsupport.stack import Account, DjangoServer, manage

pytestmark = pytest.mark.slow


def _assert_throttled(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.json()["error"]["code"] == "throttled"
    assert 0 < int(answer.headers["Retry-After"]) <= 60


def test_guessing_one_password_is_stopped_whichever_addresses_the_guesses_come_from(
    account: Account, django: DjangoServer
):
    """Must hold: after LOGIN_USERNAME_THROTTLE_RATE attempts on one username, the next is a 429 with
    Retry-After, even with the right password and from a fresh address (finding 4: 50 guesses, then in)."""
    guesses = [
        anonymous_client(django.url).post(
            "/token/", json={"username": account.username, "password": f"wrong{n}"}
        )
        for n in range(LOGIN_LIMIT_PER_USERNAME - 1)  # the account's own login was the first attempt
    ]
    assert [guess.status_code for guess in guesses] == [401] * (LOGIN_LIMIT_PER_USERNAME - 1)

    right = anonymous_client(django.url).post(
        "/token/", json={"username": account.username, "password": account.password}
    )

    _assert_throttled(right)


def _admin_login(base_url: str, *, username: str, password: str) -> httpx.Response:
    """One attempt at the admin's login form as a browser makes it, from an address of its own: the form
    (its CSRF cookie and token) first, then the POST."""
    with anonymous_client(base_url) as client:
        form = client.get(f"{base_url}/admin/login/")
        assert form.status_code == 200, form.text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token is not None, form.text
        return client.post(
            f"{base_url}/admin/login/",
            data={"csrfmiddlewaretoken": token[1], "username": username, "password": password},
            headers={
                # The cookie is Secure (the client came "through TLS"), so httpx keeps it to https: by hand.
                "Cookie": f"csrftoken={form.cookies['csrftoken']}",
                # Django checks an HTTPS POST's Referer against the host.
                "Referer": f"https://{urlsplit(base_url).netloc}/admin/login/",
            },
        )


def test_guessing_a_password_at_the_admin_login_is_stopped_by_the_apis_limit(
    account: Account, django: DjangoServer
):
    """Must hold: the admin's login form counts in the API login's per-username window, across worker
    processes: after LOGIN_USERNAME_THROTTLE_RATE attempts through either door, the next is a 429 with
    Retry-After, right password and fresh address alike (the admin's login had no limit at all)."""
    guesses = [
        _admin_login(django.url, username=account.username, password=f"wrong{n}")
        for n in range(LOGIN_LIMIT_PER_USERNAME - 1)  # the account's own API login was the first attempt
    ]
    assert [guess.status_code for guess in guesses] == [200] * (LOGIN_LIMIT_PER_USERNAME - 1)
    assert all("Please enter the correct username and password" in guess.text for guess in guesses)

    right = _admin_login(django.url, username=account.username, password=account.password)

    _assert_throttled(right)


def test_registrations_from_one_address_are_limited(django: DjangoServer):
    """Must hold: one address registers at most REGISTER_THROTTLE_RATE accounts (finding 4: 40 in 13 s)."""
    client = anonymous_client(django.url)
    names = [f"flood_{secrets.token_hex(6)}" for _ in range(REGISTER_LIMIT_PER_ADDRESS + 1)]

    answers = [
        client.post(
            "/register/",
            json={"username": name, "email": f"{name}@example.com", "password": "a-long-passphrase-1"},
        )
        for name in names
    ]

    assert [answer.status_code for answer in answers[:-1]] == [201] * REGISTER_LIMIT_PER_ADDRESS
    _assert_throttled(answers[-1])


def test_refresh_rotates_and_logout_revokes(account: Account, django: DjangoServer):
    """Must hold: a refresh hands out a new refresh token and the used one stops working; after logout the
    refresh token is refused (finding 10: no logout, no revocation)."""
    client = anonymous_client(django.url)

    rotated = client.post("/token/refresh/", json={"refresh": account.refresh})
    assert rotated.status_code == 200, rotated.text
    new_refresh = rotated.json()["refresh"]
    assert client.post("/token/refresh/", json={"refresh": account.refresh}).status_code == 401

    assert client.post("/logout/", json={"refresh": new_refresh}).status_code == 204
    assert client.post("/token/refresh/", json={"refresh": new_refresh}).status_code == 401


def test_a_password_change_revokes_every_refresh_token(
    account: Account, django: DjangoServer, django_env: dict[str, str]
):
    """Must hold: once the password changes (here as an operator does it, in another process), a refresh
    token issued before is refused (finding 10: it worked for 7 days after a password reset)."""
    changed = manage(
        django_env,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        f"user = User.objects.get(username={account.username!r}); "
        "user.set_password('a-brand-new-passphrase'); user.save()",
    )
    assert changed.returncode == 0, changed.stderr

    refused = anonymous_client(django.url).post("/token/refresh/", json={"refresh": account.refresh})

    assert refused.status_code == 401, refused.text
