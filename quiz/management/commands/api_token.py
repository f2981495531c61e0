from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from quiz.api import TOKEN_MAX_AGE, api_token_issue


class Command(BaseCommand):
    help = (
        "Print an API token for a user, to send as 'Authorization: Bearer <token>'. It lasts "
        f"{TOKEN_MAX_AGE.days} days, and ends sooner if the user's password changes."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")

    def handle(self, *args, username: str, **options) -> None:
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(
                f"No user '{username}': create one with `manage.py createsuperuser`."
            )
        if not user.is_active:
            raise CommandError(f"User '{username}' is not active: tokens work for active users.")
        self.stdout.write(api_token_issue(user=user))
