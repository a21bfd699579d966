from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import pre_save


class ChatsphereConfig(AppConfig):
    default = True  # "chatsphere" in INSTALLED_APPS: this module declares the admin's config too
    name = "chatsphere"
    verbose_name = "ChatSphere"

    def ready(self) -> None:
        from django.contrib.auth.models import User

        import config.middleware  # noqa: F401  # registers its deploy check
        from chatsphere.services.users import revoke_tokens_on_password_change

        pre_save.connect(revoke_tokens_on_password_change, sender=User, dispatch_uid="revoke-tokens")


class ChatSphereAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with chatsphere.admin_site's site as `admin.site`."""

    default = False
    default_site = "chatsphere.admin_site.ChatSphereAdminSite"
