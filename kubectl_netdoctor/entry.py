"""The console script's entry point: Ctrl-C while the CLI is still being imported ends like Ctrl-C
anywhere else (``interrupted``, exit 130), not in a traceback. :func:`kubectl_netdoctor.cli.main`
handles everything after the import."""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130


def main() -> None:
    try:
        from kubectl_netdoctor.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    cli_main()
