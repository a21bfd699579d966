from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken


def user_register(*, username: str, email: str, password: str) -> User:
    """A new active user. Raises ValidationError for a taken username/email or a weak password."""
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": "This username is taken."})
    if email and User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "An account with this email already exists."})
    user = User(username=username, email=email)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


def user_logout(*, refresh: str) -> None:
    """Revoke a refresh token (blacklist it). Raises TokenError when it is not a valid refresh token."""
    RefreshToken(refresh).blacklist()  # type: ignore[arg-type]  # simplejwt types the token as bytes


def user_tokens_revoke(*, user: User) -> int:
    """Blacklist every refresh token the user still holds (after a password change); returns how many."""
    outstanding = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    revoked = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(revoked)


def revoke_tokens_on_password_change(sender: type[User], instance: User, **kwargs: object) -> None:
    """pre_save receiver: set_password() leaves the new raw password in `_password` until save().

    This covers every way a password changes (admin, `manage.py changepassword`, a reset view), so
    a stolen refresh token dies with the old password.
    """
    if instance.pk is not None and getattr(instance, "_password", None) is not None:
        user_tokens_revoke(user=instance)
