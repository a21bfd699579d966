from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from rest_framework_simplejwt.tokens import RefreshToken

from chatsphere.api.serializers import NOT_BLANK_PATTERN
from chatsphere.tests.factories import PASSWORD, UserFactory
from chatsphere.tests.helpers import UNREACHABLE_REDIS_CACHE, assert_error

pytestmark = pytest.mark.django_db


def test_register_then_obtain_token_then_read_me():
    from rest_framework.test import APIClient

    client = APIClient()
    registered = client.post(
        "/api/register/", {"username": "ada", "email": "ada@example.com", "password": PASSWORD}, format="json"
    )
    assert registered.status_code == 201
    assert set(registered.json()) == {"id", "username", "email"}

    tokens = client.post("/api/token/", {"username": "ada", "password": PASSWORD}, format="json").json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.get("/api/users/me/").json()["username"] == "ada"

    refreshed = client.post("/api/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 200
    assert refreshed.json()["access"]


def test_register_refuses_a_taken_username_with_a_field_error(client):
    UserFactory.create(username="ada")
    response = client.post(
        "/api/register/",
        {"username": "ADA", "email": "new@example.com", "password": PASSWORD},
        content_type="application/json",
    )
    error = assert_error(response, 400, "validation_error")
    assert error["details"][0]["field"] == "username"


def test_register_refuses_a_weak_password(client):
    response = client.post(
        "/api/register/",
        {"username": "bob", "email": "bob@example.com", "password": "12345678"},
        content_type="application/json",
    )
    error = assert_error(response, 400, "validation_error")
    assert {detail["field"] for detail in error["details"]} == {"password"}
    assert not get_user_model().objects.filter(username="bob").exists()


def test_wrong_password_is_401(client):
    user = UserFactory.create()
    response = client.post(
        "/api/token/", {"username": user.username, "password": "wrong"}, content_type="application/json"
    )
    assert_error(response, 401)


def test_requests_without_or_with_a_bad_token_are_401(client):
    assert_error(client.get("/api/bots/"), 401, "not_authenticated")
    assert_error(client.get("/api/users/me/", HTTP_AUTHORIZATION="Bearer not-a-jwt"), 401, "token_not_valid")


def test_malformed_json_is_400_malformed_json(client):
    response = client.post("/api/register/", "{not json", content_type="application/json")
    assert_error(response, 400, "malformed_json")


def test_unsupported_content_type_is_415(client):
    response = client.post("/api/register/", "username=x", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_unknown_url_is_a_json_404(client):
    assert_error(client.get("/api/no-such-thing/"), 404, "not_found")


def register(client: Client, **fields: object) -> Any:
    body = {"username": "ada", "email": "ada@example.com", "password": PASSWORD} | fields
    return client.post("/api/register/", body, content_type="application/json")


@pytest.mark.parametrize("username", ["a b", " ada", "ada ", "ada!", "a" * 151, 7])
def test_register_takes_a_username_as_django_users_have_them(client, username):
    # The schema says ^[\w.@+-]+$ and 150 characters; " ada" was trimmed into a valid one before.
    error = assert_error(register(client, username=username), 400, "validation_error")
    assert {detail["field"] for detail in error["details"]} == {"username"}
    assert not get_user_model().objects.exists()


def test_register_refuses_a_null_character_in_the_password(client):
    error = assert_error(register(client, password=PASSWORD + "\u0000"), 400, "validation_error")
    assert {detail["field"] for detail in error["details"]} == {"password"}


def test_login_takes_the_password_exactly_as_registered(client):
    # simplejwt trimmed the password at login while register keeps it: "  pass  " could never log in.
    password = f"  {PASSWORD}  "
    assert register(client, password=password).status_code == 201

    exact = client.post(
        "/api/token/", {"username": "ada", "password": password}, content_type="application/json"
    )
    trimmed = client.post(
        "/api/token/", {"username": "ada", "password": PASSWORD}, content_type="application/json"
    )

    assert exact.status_code == 200, exact.content
    assert_error(trimmed, 401)


@pytest.mark.parametrize(
    ("username", "password"), [("ada\u0000", PASSWORD), ("ada", "pass\u0000word"), (" ada", PASSWORD)]
)
def test_login_with_what_no_account_can_have_is_400(client, username, password):
    # Found by schemathesis (positive_data_acceptance): NUL in a schema-valid body was an unexplained 400.
    UserFactory.create(username="ada")
    response = client.post(
        "/api/token/", {"username": username, "password": password}, content_type="application/json"
    )
    assert_error(response, 400, "validation_error")


def test_refresh_says_what_a_token_can_contain(client):
    # Found by schemathesis (positive_data_acceptance): `"refresh": "\u0000"` was a 400 the schema hid.
    with_nul = client.post("/api/token/refresh/", {"refresh": "a\u0000b"}, content_type="application/json")
    invalid = client.post("/api/token/refresh/", {"refresh": "not-a-jwt"}, content_type="application/json")
    schema = client.get("/api/schema/?format=json").json()["components"]["schemas"]["RefreshRequest"]

    assert_error(with_nul, 400, "validation_error")
    assert_error(invalid, 401, "token_not_valid")
    assert schema["properties"]["refresh"]["pattern"] == NOT_BLANK_PATTERN


def test_logins_for_one_username_are_limited_whatever_the_password(client, settings):
    settings.LOGIN_USERNAME_THROTTLE_RATE = "2/min"
    UserFactory.create(username="ada")
    login = {"username": "ada", "password": "wrong"}

    statuses = [
        client.post("/api/token/", login, content_type="application/json").status_code for _ in range(2)
    ]
    blocked = client.post(
        "/api/token/", {"username": "ada", "password": PASSWORD}, content_type="application/json"
    )

    assert statuses == [401, 401]
    assert_error(blocked, 429, "throttled")
    assert int(blocked["Retry-After"]) > 0


def test_a_limit_is_not_applied_when_its_cache_does_not_answer(client, settings):
    settings.LOGIN_USERNAME_THROTTLE_RATE = "1/min"
    UserFactory.create(username="ada")
    login = {"username": "ada", "password": PASSWORD}

    with override_settings(CACHES=UNREACHABLE_REDIS_CACHE):
        statuses = [
            client.post("/api/token/", login, content_type="application/json").status_code for _ in range(3)
        ]

    assert statuses == [200, 200, 200]


def test_refresh_rotates_and_logout_revokes(client):
    user = UserFactory.create()
    first = RefreshToken.for_user(user)

    rotated = client.post("/api/token/refresh/", {"refresh": str(first)}, content_type="application/json")
    assert rotated.status_code == 200
    second = rotated.json()["refresh"]
    reused = client.post("/api/token/refresh/", {"refresh": str(first)}, content_type="application/json")
    assert_error(reused, 401, "token_not_valid")

    assert (
        client.post("/api/logout/", {"refresh": second}, content_type="application/json").status_code == 204
    )
    revoked = client.post("/api/token/refresh/", {"refresh": second}, content_type="application/json")
    assert_error(revoked, 401, "token_not_valid")


def test_logout_with_a_token_that_is_not_one_is_a_401(client):
    assert_error(
        client.post("/api/logout/", {"refresh": "nope"}, content_type="application/json"),
        401,
        "token_not_valid",
    )


def test_a_password_change_revokes_the_users_refresh_tokens(client):
    user = UserFactory.create()
    refresh = RefreshToken.for_user(user)

    user.set_password("another-long-passphrase")
    user.save()

    refused = client.post("/api/token/refresh/", {"refresh": str(refresh)}, content_type="application/json")
    assert_error(refused, 401, "token_not_valid")
