import pytest
from django.core.management import call_command


def test_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = target.read_text()
    assert "/api/conversations/{id}/chat/" in schema
    assert "ErrorBody" in schema


@pytest.mark.django_db
def test_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_created_objects_link_to_their_operations(client):
    # Without OpenAPI links schemathesis' stateful phase could not chain bot → documents/conversations.
    paths = client.get("/api/schema/?format=json").json()["paths"]
    operation_ids = {operation["operationId"] for path in paths.values() for operation in path.values()}

    bot_links = paths["/api/bots/"]["post"]["responses"]["201"]["links"]
    conversation_links = paths["/api/conversations/"]["post"]["responses"]["201"]["links"]
    document_links = paths["/api/documents/train_text/"]["post"]["responses"]["202"]["links"]

    assert bot_links["TrainTheBot"]["requestBody"] == {"bot": "$response.body#/id"}
    assert bot_links["ListItsConversations"]["parameters"] == {"query.bot": "$response.body#/id"}
    assert conversation_links["ChatInIt"]["operationId"] == "conversations_chat_create"
    assert document_links["RetryTheDocument"]["parameters"] == {"path.id": "$response.body#/id"}
    for links in (bot_links, conversation_links, document_links):
        assert {link["operationId"] for link in links.values()} <= operation_ids
