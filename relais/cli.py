"""The `relais` console command: Django's management commands under one short name.

relais migrate | run --port N | worker | demo | replay FILE --speed X | createorg ...
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    argv = sys.argv[1:] or ["help"]
    execute_from_command_line(["relais", *argv])


if __name__ == "__main__":
    main()
