"""`relais createorg SLUG NAME --admin USER`: a new organisation with its first administrator."""

import getpass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from relais.accounts.models import Membership, Organization, Role


class Command(BaseCommand):
    help = "Create an organisation and its first administrator."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("name")
        parser.add_argument("--admin", required=True, help="user name of the administrator")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", help="default: asked on the terminal")
        parser.add_argument("--timezone", default="Europe/Paris")
        parser.add_argument("--language", default="fr", choices=["fr", "en"])

    @transaction.atomic
    def handle(self, *args, **options):
        if Organization.objects.filter(slug=options["slug"]).exists():
            raise CommandError(f"An organisation {options['slug']!r} exists already.")
        org = Organization.objects.create(
            slug=options["slug"],
            name=options["name"],
            timezone=options["timezone"],
            language=options["language"],
        )
        User = get_user_model()
        user = User.objects.filter(username=options["admin"]).first()
        if user is None:
            password = options["password"] or getpass.getpass(f"Password for {options['admin']}: ")
            if len(password) < 8:
                raise CommandError("The password needs at least 8 characters.")
            user = User.objects.create_user(
                username=options["admin"], email=options["email"], password=password
            )
        Membership.objects.create(user=user, organization=org, role=Role.ADMIN)
        self.stdout.write(
            f"Organisation {org.slug} created; {user.get_username()} is its administrator."
        )
