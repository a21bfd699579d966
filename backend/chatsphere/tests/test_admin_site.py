"""The admin's login form is rate-limited as the API's login is, in the same windows."""

import pytest
from django.test import Client, override_settings

from chatsphere.tests.factories import PASSWORD, UserFactory
from chatsphere.tests.helpers import UNREACHABLE_REDIS_CACHE, assert_error

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"


def _admin_login(client: Client, username: str, password: str) -> int:
    return client.post(ADMIN_LOGIN, {"username": username, "password": password}).status_code


def test_admin_logins_for_one_username_are_limited_whatever_the_password(client, settings):
    settings.LOGIN_USERNAME_THROTTLE_RATE = "2/min"
    UserFactory.create(username="root", is_staff=True, is_superuser=True)

    statuses = [_admin_login(client, "root", "wrong") for _ in range(2)]
    blocked = client.post(ADMIN_LOGIN, {"username": "root", "password": PASSWORD})

    assert statuses == [200, 200]  # the form again, with its error
    assert_error(blocked, 429, "throttled")
    assert 0 < int(blocked["Retry-After"]) <= 60


def test_admin_logins_from_one_address_are_limited_across_usernames(client, settings):
    settings.LOGIN_IP_THROTTLE_RATE = "2/min"

    statuses = [_admin_login(client, f"guess{n}", "wrong") for n in range(3)]

    assert statuses == [200, 200, 429]


def test_the_admin_and_the_api_login_count_in_the_same_window(client, settings):
    settings.LOGIN_USERNAME_THROTTLE_RATE = "2/min"
    UserFactory.create(username="root", is_staff=True, is_superuser=True)
    api_login = {"username": "root", "password": "wrong"}

    first = client.post("/api/token/", api_login, content_type="application/json").status_code
    second = _admin_login(client, "root", "wrong")
    third = client.post("/api/token/", api_login, content_type="application/json")

    assert (first, second) == (401, 200)
    assert_error(third, 429, "throttled")


def test_a_right_admin_login_within_the_limit_logs_in(client):
    UserFactory.create(username="root", is_staff=True, is_superuser=True)

    response = client.post(ADMIN_LOGIN, {"username": "root", "password": PASSWORD, "next": "/admin/"})

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_the_admin_login_is_not_limited_when_its_cache_does_not_answer(client, settings):
    settings.LOGIN_USERNAME_THROTTLE_RATE = "1/min"

    with override_settings(CACHES=UNREACHABLE_REDIS_CACHE):
        statuses = [_admin_login(client, "root", "wrong") for _ in range(3)]

    assert statuses == [200, 200, 200]
