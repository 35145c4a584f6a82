"""`relais apitoken USERNAME --org SLUG --name NAME`: a new API token, printed once."""

from django.core.management.base import BaseCommand, CommandError

from relais.accounts.models import ApiToken, Membership


class Command(BaseCommand):
    help = "Issue an API token acting as USERNAME in an organisation; the key is shown only once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--org", help="organisation slug (needed when the user belongs to several)"
        )
        parser.add_argument("--name", required=True, help="what the token is for, e.g. 'crm-sync'")

    def handle(self, *args, **options):
        memberships = Membership.objects.filter(user__username=options["username"]).select_related(
            "organization", "user"
        )
        if options["org"]:
            memberships = memberships.filter(organization__slug=options["org"])
        found = list(memberships[:2])
        if not found:
            where = f" in {options['org']!r}" if options["org"] else ""
            raise CommandError(
                f"{options['username']!r} is not a member of any organisation{where}."
            )
        if len(found) > 1:
            raise CommandError(
                f"{options['username']!r} belongs to several organisations: choose one with --org."
            )
        membership = found[0]
        name = options["name"].strip()
        if not name:
            raise CommandError("Give the token a --name.")
        token, key = ApiToken.issue(membership=membership, name=name[:120])
        self.stderr.write(
            f"Token {token.prefix}… for {membership.user.get_username()} in {membership.organization.slug} "
            f"({membership.role}). Store the key now: it is not kept and cannot be shown again."
        )
        self.stdout.write(key)
