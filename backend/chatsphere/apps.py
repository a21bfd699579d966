from django.apps import AppConfig
from django.db.models.signals import pre_save


class ChatsphereConfig(AppConfig):
    name = "chatsphere"
    verbose_name = "ChatSphere"

    def ready(self) -> None:
        from django.contrib.auth.models import User

        from chatsphere.services.users import revoke_tokens_on_password_change

        pre_save.connect(revoke_tokens_on_password_change, sender=User, dispatch_uid="revoke-tokens")
