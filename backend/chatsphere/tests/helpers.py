"""Assertions shared by the API tests."""

from typing import Any

from django.http import HttpResponse

# Nothing listens on port 1: the cache client fails at once, as with a stopped Redis. Use it with
# override_settings inside a test, so the suite's teardown (cache.clear()) sees the real cache again.
UNREACHABLE_REDIS_CACHE = {
    "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
}


def assert_error(response: HttpResponse, status_code: int, code: str | None = None) -> dict[str, Any]:
    """The response has `status_code` and the one error shape; returns its "error" object."""
    assert response.status_code == status_code, response.content
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()  # type: ignore[attr-defined]  # test responses have .json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    error: dict[str, Any] = body["error"]
    return error
