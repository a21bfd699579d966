# factory_boy's declarations (Sequence, SubFactory...) are untyped and not re-exported for mypy.
# mypy: disable-error-code="attr-defined,no-untyped-call"
import factory
from django.contrib.auth.models import User
from factory.django import DjangoModelFactory, Password

from chatsphere.models import Bot, Conversation, Document, Message

PASSWORD = "correct-horse-battery-staple"


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = Password(PASSWORD)


class BotFactory(DjangoModelFactory[Bot]):
    class Meta:
        model = Bot

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Bot {n}")
    system_prompt = "Answer from the documents."


class DocumentFactory(DjangoModelFactory[Document]):
    class Meta:
        model = Document

    bot = factory.SubFactory(BotFactory)
    name = "notes.txt"
    text = "Penguins live in the southern hemisphere."
    content_type = "text/plain"
    status = Document.Status.READY


class ConversationFactory(DjangoModelFactory[Conversation]):
    class Meta:
        model = Conversation

    bot = factory.SubFactory(BotFactory)
    owner = factory.SelfAttribute("bot.owner")


class MessageFactory(DjangoModelFactory[Message]):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    role = Message.Role.USER
    content = factory.Sequence(lambda n: f"message {n}")
