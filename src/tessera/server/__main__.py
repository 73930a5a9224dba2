"""``python -m tessera.server COMMAND``: the server commands without the main CLI."""

from __future__ import annotations

import argparse
import sys

from tessera.server._cli import add_commands, run


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the server command."""
    parser = argparse.ArgumentParser(
        prog="python -m tessera.server", description="Tessera authorization server commands."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_commands(subparsers)
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
