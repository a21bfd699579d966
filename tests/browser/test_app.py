"""A person's whole path through the web app and the embedded widget, in headless Chromium.

Every control is found by its label or role, as a screen reader would find it: a control without a
label fails these tests.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import Screenshots, ThirdPartySite
from tests.e2e.facts import BAKERY, LIGHTHOUSE
from testsupport.fixture_site import HOME_LINKS, HOME_TEXT, NAV, FixtureSite

pytestmark = pytest.mark.slow

PASSWORD = "a-long-passphrase-7"
# The body Django answers when the AI service is down (the question is kept).
AGENT_DOWN = {
    "error": {
        "code": "agent_unavailable",
        "message": "The AI service is unavailable. Nothing was lost; try again in a moment.",
        "details": None,
    }
}


def sign_up(page: Page, base_url: str) -> str:
    username = f"web_{uuid.uuid4().hex[:10]}"
    page.goto(base_url)
    signup = page.locator("#signup-form")
    signup.get_by_label("Username").fill(username)
    signup.get_by_label("Email").fill(f"{username}@example.com")
    signup.get_by_label("Password").fill(PASSWORD)
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


def bakery_bot_with_widget(page: Page, base_url: str, *, origin: str) -> str:
    """A new user's bot with the bakery document, embeddable from `origin`: its publishable key."""
    sign_up(page, base_url)
    create_bot_with_document(page, "Bakery helper", BAKERY.file_name, BAKERY.text)
    page.get_by_role("tab", name="Widget").click()
    page.get_by_label("Allowed origins").fill(origin)
    page.get_by_role("button", name=re.compile("Enable embedding")).click()
    expect(page.locator("#widget-key")).to_have_text(re.compile(r"^pk_"))
    return page.locator("#widget-key").inner_text()


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


def test_a_website_is_added_its_pages_shown_with_their_status_and_crawled_again(
    page: Page, django_url: str, help_site: FixtureSite, shots: Screenshots
):
    del help_site.routes["/slow"]  # its timeout is the e2e test's to wait for: here a 404, skipped at once
    sign_up(page, django_url)
    page.get_by_label("New bot name").fill("Help desk")
    page.get_by_role("button", name="Create bot").click()
    expect(page.get_by_role("heading", name="Help desk")).to_be_visible()

    page.get_by_label("Website to learn from").fill(help_site.url)
    page.get_by_label("Re-crawl every").fill("24")
    page.get_by_role("button", name="Add website").click()
    website = page.locator("#website-list tr", has_text=help_site.url)
    expect(website.locator("[data-status]")).to_have_attribute("data-status", "READY", timeout=60_000)
    expect(website).to_contain_text("every 24 h")
    returns = page.locator("#document-list tr", has_text="Returns and refunds")
    expect(returns.locator("[data-status]")).to_have_attribute("data-status", "READY", timeout=60_000)
    expect(returns).to_contain_text(f"{help_site.url}/returns")
    huge = page.locator("#document-list tr", has_text=f"{help_site.url}/huge")
    expect(huge.locator("[data-status]")).to_have_attribute("data-status", "ERROR")
    expect(huge).to_contain_text("the limit is 100000 bytes")
    shots.take(page, "website-pages")

    help_site.page("/", title="Help centre", text=HOME_TEXT, links=(*HOME_LINKS, "/careers"))
    help_site.page(
        "/careers", title="Careers", text="The Tromso warehouse is hiring seasonal packers.", links=NAV
    )
    website.get_by_role("button", name="Re-crawl").click()
    careers = page.locator("#document-list tr", has_text="Careers")
    expect(careers.locator("[data-status]")).to_have_attribute("data-status", "READY", timeout=60_000)
    shots.take(page, "website-recrawled")


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
    key = bakery_bot_with_widget(page, django_url, origin=third_party_site.allowed_origin)
    expect(page.get_by_label("Add this to your page")).to_have_value(re.compile(f'data-bot-key="{key}"'))
    shots.take(page, "widget-enabled")

    visitor = page.context.new_page()
    visitor.goto(f"{third_party_site.allowed_origin}/?key={key}")
    bubble = visitor.get_by_role("button", name="Open chat")
    # Drawn, not typed: Debian's Chromium has no emoji font, and an emoji would be a missing-glyph box.
    expect(bubble.locator("svg")).to_be_visible()
    assert bubble.inner_text().strip() == ""
    bubble.click()
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


def _answer_lost_as_a_503(route: Route, headers: dict[str, str] | None = None) -> None:
    route.fetch()  # the request reaches the server, which stores the question and answers...
    route.fulfill(status=503, json=AGENT_DOWN, headers=headers)  # ...but the browser gets an outage's 503


def _answer_lost_with_the_connection(route: Route) -> None:
    route.fetch()
    route.abort("connectionreset")


def test_a_message_sent_again_after_a_failure_is_stored_once(page: Page, django_url: str, shots: Screenshots):
    """Each message's first try reaches the server but its answer never reaches the page: once as the 503 of
    an AI outage, once as a dropped connection. The message stays in the box; sending it again reuses its
    Idempotency-Key, so the conversation holds each question once, with its answer shown."""
    username = sign_up(page, django_url)
    create_bot_with_document(page, "Handbook", LIGHTHOUSE.file_name, LIGHTHOUSE.text)
    page.get_by_role("tab", name="Chat").click()
    keys: list[str] = []
    first_tries: dict[int, Callable[[Route], None]] = {
        0: _answer_lost_as_a_503,
        2: _answer_lost_with_the_connection,
    }

    def chat(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key", ""))
        lose_the_answer = first_tries.get(len(keys) - 1)
        if lose_the_answer is None:
            route.continue_()
        else:
            lose_the_answer(route)

    page.route(re.compile(r"/api/conversations/[^/]+/chat/$"), chat)
    box = page.get_by_label("Your message")
    questions = [LIGHTHOUSE.question, "And what do the cats get on Sundays?"]
    failures = ["Nothing was lost; try again in a moment.", "The server cannot be reached."]
    for number, (question, failure) in enumerate(zip(questions, failures, strict=True), start=1):
        box.fill(question)
        box.press("Enter")
        expect(page.get_by_role("alert")).to_contain_text(failure)
        expect(box).to_have_value(question)
        shots.take(page, f"message-{number}-failed-and-kept")
        # Once the answer is in, the app reads the conversation back: only then is the next message typed.
        with page.expect_response(re.compile(r"/api/conversations/[^/?]+/$"), timeout=60_000):
            box.press("Enter")
        expect(page.locator(".message.bot")).to_have_count(number)
    expect(page.locator(".message.bot").first).to_contain_text(LIGHTHOUSE.answer_words)
    expect(page.locator(".message.user")).to_have_count(2)
    shots.take(page, "each-question-once")

    token = httpx.post(f"{django_url}/api/token/", json={"username": username, "password": PASSWORD})
    conversation = httpx.get(
        f"{django_url}/api/conversations/{page.url.rsplit('/', 1)[-1]}/",
        headers={"Authorization": f"Bearer {token.json()['access']}"},
    ).json()
    stored = [(message["role"], message["content"]) for message in conversation["messages"]]
    assert [role for role, _ in stored] == ["USER", "BOT", "USER", "BOT"]
    assert [content for role, content in stored if role == "USER"] == questions
    assert LIGHTHOUSE.answer_words in stored[1][1]
    assert keys[0] == keys[1] != keys[2] == keys[3], keys


def test_a_widget_message_sent_again_after_a_503_is_stored_once(
    page: Page, django_url: str, third_party_site: ThirdPartySite, shots: Screenshots
):
    """The widget's first try reaches the server, but the visitor gets an outage's 503; the message stays in
    the box, and sending it again stores no second question."""
    key = bakery_bot_with_widget(page, django_url, origin=third_party_site.allowed_origin)
    visitor = page.context.new_page()
    keys: list[str] = []
    cors = {"Access-Control-Allow-Origin": third_party_site.allowed_origin}

    def chat(route: Route) -> None:
        if route.request.method != "POST":  # the CORS preflight
            route.continue_()
            return
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            _answer_lost_as_a_503(route, headers=cors)
        else:
            route.continue_()

    visitor.route(f"{django_url}/api/widget/{key}/chat/", chat)
    visitor.goto(f"{third_party_site.allowed_origin}/?key={key}")
    visitor.get_by_role("button", name="Open chat").click()
    box = visitor.get_by_label("Your message")
    box.fill(BAKERY.question)
    visitor.get_by_role("button", name="Send").click()
    expect(visitor.locator("#chatsphere-widget li.problem")).to_contain_text("Nothing was lost")
    expect(box).to_have_value(BAKERY.question)
    shots.take(visitor, "widget-failed-and-kept")
    visitor.get_by_role("button", name="Send").click()
    expect(visitor.locator("#chatsphere-widget li.bot").last).to_contain_text(
        BAKERY.answer_words, timeout=60_000
    )
    expect(visitor.locator("#chatsphere-widget li.user")).to_have_count(1)
    shots.take(visitor, "widget-question-once")

    visitor_token = visitor.evaluate(f"localStorage.getItem('chatsphere-widget:{key}')")
    conversation = httpx.get(
        f"{django_url}/api/widget/{key}/conversation/",
        headers={"Origin": third_party_site.allowed_origin, "X-Visitor-Token": visitor_token},
    ).json()
    assert [message["content"] for message in conversation["messages"] if message["role"] == "USER"] == [
        BAKERY.question
    ]
    assert keys[0] == keys[1], keys
