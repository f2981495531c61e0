from django.core.management.base import BaseCommand, CommandError
from lti_tool.models import LtiContext
from pylti1p3.exception import LtiException

from lti.services import roster_sync


class Command(BaseCommand):
    help = (
        "Fetch the roster of a course (an LTI context) from its platform with Names and Role "
        "Provisioning, store it and print it. Without an id, list the contexts."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("context", nargs="?", type=int, help="the context's id")

    def handle(self, *args, context=None, **options) -> None:
        if context is None:
            for row in LtiContext.objects.select_related("deployment__registration"):
                self.stdout.write(f"{row.pk}\t{row.deployment.registration}\t{row}")
            return
        found = LtiContext.objects.filter(pk=context).first()
        if found is None:
            raise CommandError(f"There is no context {context}: run lti_roster alone to list them.")
        try:
            members = roster_sync(context=found)
        except LtiException as error:
            raise CommandError(f"The roster of '{found}' could not be fetched: {error}") from error
        for member in members:
            roles = [
                role
                for role in (
                    "administrator",
                    "instructor",
                    "content_developer",
                    "mentor",
                    "learner",
                )
                if getattr(member, f"is_{role}")
            ]
            status = "active" if member.is_active else "inactive"
            user = member.user
            self.stdout.write(
                f"{user.sub}\t{user.name or user.email}\t{', '.join(roles) or '-'}\t{status}"
            )
        self.stdout.write(f"{len(members)} member(s) in '{found}'.")
