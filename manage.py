#!/usr/bin/env python3
"""Django's command-line utility, plus the README's two commands.

``./manage.py up``   runs the whole product (web, worker, beat) on the embedded default.
``./manage.py test`` runs the whole test suite.
Both first make or refresh ``.venv``; every other command runs in the current interpreter.
"""

import os
import sys

DEV_COMMANDS = {"up", "test"}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in DEV_COMMANDS:
        from config.bootstrap import ensure_venv

        ensure_venv()
        if sys.argv[1] == "test":
            os.chdir(os.path.dirname(os.path.abspath(__file__)))
            os.execv(sys.executable, [sys.executable, "-m", "pytest", *sys.argv[2:]])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
