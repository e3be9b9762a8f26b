"""The console script's entry point: Ctrl-C or SIGTERM while the CLI is still being imported ends like
one anywhere else (``interrupted``, exit 130), not in a traceback or a death by the signal.
:func:`kubectl_netdoctor.cli.main` handles everything after the import."""

from __future__ import annotations

import sys

from kubectl_netdoctor.errors import EXIT_INTERRUPTED, sigterm_as_interrupt


def main() -> None:
    sigterm_as_interrupt()  # from the first instant: the imports below take a while
    try:
        from kubectl_netdoctor.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    cli_main()


if __name__ == "__main__":  # python -m kubectl_netdoctor.entry, as the console script runs it
    main()
