"""A person's whole path through the web app and the embedded widget, in headless Chromium.

Every control is found by its label or role, as a screen reader would find it: a control without a
label fails these tests.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Screenshots, ThirdPartySite
from tests.e2e.facts import BAKERY, LIGHTHOUSE

pytestmark = pytest.mark.slow


def sign_up(page: Page, base_url: str) -> str:
    username = f"web_{uuid.uuid4().hex[:10]}"
    page.goto(base_url)
    signup = page.locator("#signup-form")
    signup.get_by_label("Username").fill(username)
    signup.get_by_label("Email").fill(f"{username}@example.com")
    signup.get_by_label("Password").fill("a-long-passphrase-7")
    signup.get_by_role("button", name="Create account").click()
    # Password hashing makes sign-up take seconds on a busy machine.
    expect(page.get_by_text(f"Signed in as {username}")).to_be_visible(timeout=60_000)
    return username


def create_bot_with_document(page: Page, name: str, file_name: str, text: str) -> None:
    page.get_by_label("New bot name").fill(name)
    page.get_by_role("button", name="Create bot").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    page.get_by_label("Upload a file").set_input_files(
        {"name": file_name, "mimeType": "text/plain", "buffer": text.encode()}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    row = page.locator("tr", has_text=file_name)
    expect(row).to_be_visible()
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "READY", timeout=60_000)


def test_sign_up_build_a_bot_chat_with_citations_and_resume(page: Page, django_url: str, shots: Screenshots):
    sign_up(page, django_url)
    shots.take(page, "signed-up")
    create_bot_with_document(page, "Handbook", LIGHTHOUSE.file_name, LIGHTHOUSE.text)
    shots.take(page, "document-ready")

    page.get_by_role("button", name="Show chunks").click()
    expect(page.locator("#chunk-list")).to_contain_text("smoked herring")

    page.get_by_role("tab", name="Chat").click()
    page.get_by_label("Your message").fill(LIGHTHOUSE.question)
    with page.expect_response(lambda response: response.url.endswith("/chat/")) as chat:
        page.get_by_label("Your message").press("Enter")
    # The app asked for the answer as a stream and got one, rather than falling back to JSON.
    assert chat.value.headers["content-type"].startswith("text/event-stream")
    answer = page.locator(".message.bot").last
    expect(answer).to_contain_text(LIGHTHOUSE.answer_words, timeout=60_000)
    citation = answer.get_by_role("button", name=re.compile(LIGHTHOUSE.file_name))
    expect(citation).to_be_visible()
    shots.take(page, "answer-with-citation")

    citation.focus()
    page.keyboard.press("Enter")  # a citation opens from the keyboard too
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(LIGHTHOUSE.file_name)
    expect(dialog).to_contain_text("smoked herring")
    shots.take(page, "quoted-passage")
    dialog.get_by_role("button", name="Close").click()

    page.reload()
    expect(page.locator(".message.user")).to_contain_text(LIGHTHOUSE.question)
    expect(page.locator(".message.bot").last).to_contain_text(LIGHTHOUSE.answer_words)
    expect(page.get_by_role("list", name="Conversations").get_by_role("link")).to_have_count(1)
    shots.take(page, "resumed-after-reload")


def test_another_user_never_sees_the_first_users_bots(page: Page, django_url: str, shots: Screenshots):
    sign_up(page, django_url)
    page.get_by_label("New bot name").fill("Alice's secret bot")
    page.get_by_role("button", name="Create bot").click()
    expect(page.get_by_role("navigation", name="Your bots")).to_contain_text("Alice's secret bot")

    page.get_by_role("button", name="Log out").click()
    sign_up(page, django_url)
    bots = page.get_by_role("navigation", name="Your bots")
    expect(bots.get_by_role("link")).to_have_count(0)
    expect(bots).not_to_contain_text("Alice's secret bot")
    shots.take(page, "second-user-sees-no-bots")


def test_user_errors_are_words(page: Page, django_url: str):
    page.goto(django_url)
    login = page.locator("#login-form")
    login.get_by_label("Username").fill("nobody_here")
    login.get_by_label("Password").fill("wrong-password-1")
    login.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("That username and password do not match an account.")


def test_the_widget_chats_from_an_allowed_origin_only_until_revoked(
    page: Page, django_url: str, third_party_site: ThirdPartySite, shots: Screenshots
):
    page.on("dialog", lambda dialog: dialog.accept())  # the app confirms before revoking
    sign_up(page, django_url)
    create_bot_with_document(page, "Bakery helper", BAKERY.file_name, BAKERY.text)
    page.get_by_role("tab", name="Widget").click()
    page.get_by_label("Allowed origins").fill(third_party_site.allowed_origin)
    page.get_by_role("button", name=re.compile("Enable embedding")).click()
    expect(page.locator("#widget-key")).to_have_text(re.compile(r"^pk_"))
    key = page.locator("#widget-key").inner_text()
    expect(page.get_by_label("Add this to your page")).to_have_value(re.compile(f'data-bot-key="{key}"'))
    shots.take(page, "widget-enabled")

    visitor = page.context.new_page()
    visitor.goto(f"{third_party_site.allowed_origin}/?key={key}")
    visitor.get_by_role("button", name="Open chat").click()
    visitor.get_by_label("Your message").fill(BAKERY.question)
    visitor.get_by_role("button", name="Send").click()
    reply = visitor.locator("#chatsphere-widget li.bot").last
    expect(reply).to_contain_text(BAKERY.answer_words, timeout=60_000)
    expect(reply).to_contain_text(f"Sources: {BAKERY.file_name}")
    shots.take(visitor, "widget-answers")

    elsewhere = page.context.new_page()
    elsewhere.goto(f"{third_party_site.other_origin}/?key={key}")
    elsewhere.get_by_role("button", name="Open chat").click()
    expect(elsewhere.locator("#chatsphere-widget li.problem")).to_have_text(
        "This chat is not available on this site."
    )
    shots.take(elsewhere, "widget-refused-origin")

    page.get_by_role("button", name="Revoke key").click()
    expect(page.locator("#widget-info")).to_be_hidden()
    visitor.reload()
    visitor.get_by_role("button", name="Open chat").click()
    expect(visitor.locator("#chatsphere-widget li.problem")).to_contain_text("not available")
    shots.take(visitor, "widget-revoked")


def test_what_a_user_types_into_a_tab_on_a_slow_network_is_kept(page: Page, django_url: str):
    """The widget test's old flake, made certain: the Widget tab was shown before the bot was reloaded, so
    origins typed at once were overwritten by the late render and the key was enabled for no origin."""
    sign_up(page, django_url)
    page.get_by_label("New bot name").fill("Slow network bot")
    page.get_by_role("button", name="Create bot").click()
    expect(page.get_by_role("heading", name="Slow network bot")).to_be_visible()
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 400, "downloadThroughput": -1, "uploadThroughput": -1},
    )

    page.get_by_role("tab", name="Widget").click()
    page.get_by_label("Allowed origins").fill("https://shop.example")
    # The user reads what they typed for a second before enabling: the tab's load has landed by then.
    page.wait_for_timeout(1_000)
    page.get_by_role("button", name=re.compile("Enable embedding")).click()

    expect(page.locator("#widget-key")).to_have_text(re.compile(r"^pk_"))
    expect(page.get_by_label("Allowed origins")).to_have_value("https://shop.example")
