"""Assertions shared by the API tests."""

from typing import Any

from django.http import HttpResponse


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
