"""Typed parameters: coercion, ranges, unknown keys, and defaults < preset < YAML < flags."""

from __future__ import annotations

import dataclasses
import math
import types
from typing import Literal, Optional

import pytest

import hippo_bench.presets
import hippo_bench.runner
from hippo_bench.errors import UserError
from hippo_bench.params import build_config, coerce, fields_of, param


@dataclasses.dataclass
class Cfg:
    rate: float = param(0.5, "a rate", min=0.0, max=1.0)
    count: int = param(3, "a count", min=1)
    flag: bool = param(False, "a switch")
    sizes: list[int] = param([100, 100], "layer sizes", min=1)
    mode: Literal["a", "b"] = param("a", "a mode")
    cap: Optional[int] = param(None, "optional cap")


SPECS = {s.name: s for s in fields_of(Cfg)}


@pytest.mark.parametrize("field, raw, expected", [
    ("rate", "0.25", 0.25), ("rate", "1e-3", 1e-3), ("rate", 1, 1.0),
    ("count", "7", 7), ("count", "1e3", 1000), ("count", 4.0, 4),
    ("flag", "yes", True), ("flag", "off", False), ("flag", True, True),
    ("sizes", "200 50", [200, 50]), ("sizes", "200,50", [200, 50]), ("sizes", [8], [8]),
    ("mode", "b", "b"), ("cap", "none", None), ("cap", "12", 12),
])
def test_coercion(field, raw, expected):
    value = coerce(SPECS[field], raw, f"--{field}")
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("field, raw, message", [
    ("rate", "abc", "--rate: expected a number, got 'abc'"),
    ("rate", True, "--rate: expected a number"),
    ("count", "2.5", "--count: expected an integer, got '2.5'"),
    ("count", "x", "--count: expected an integer"),
    ("flag", "maybe", "--flag: expected true or false"),
    ("mode", "c", "--mode: expected one of a, b"),
    ("rate", "1.5", "--rate: must be <= 1.0, got 1.5"),
    ("rate", "-0.1", "--rate: must be >= 0.0, got -0.1"),
    ("rate", "nan", "--rate: NaN is not allowed"),
    ("count", "0", "--count: must be >= 1, got 0"),
    ("sizes", "10 0", "--sizes: must be >= 1, got 0"),
    ("count", None, "--count: a value is required"),
])
def test_bad_values_name_the_flag(field, raw, message):
    with pytest.raises(UserError) as info:
        coerce(SPECS[field], raw, f"--{field}")
    assert str(info.value).startswith(message)


def test_unknown_key_lists_known_ones():
    with pytest.raises(UserError, match=r"config c\.yaml: unknown key 'rte' for Cfg; known: cap, count, flag"):
        build_config(Cfg, ("config c.yaml", {"rte": 0.1}))


def test_layers_apply_in_order_and_keep_defaults():
    cfg = build_config(Cfg, ("preset p", {"rate": 0.1, "count": 5, "mode": "b"}),
                       ("config c.yaml", {"rate": 0.2, "count": "6"}), ("flags", {"rate": "0.3"}))
    assert (cfg.rate, cfg.count, cfg.mode, cfg.flag, cfg.sizes) == (0.3, 6, "b", False, [100, 100])


def test_bad_yaml_value_names_its_source():
    with pytest.raises(UserError, match=r"^config c\.yaml: count: expected an integer"):
        build_config(Cfg, ("config c.yaml", {"count": "many"}))


# ---------------------------------------------------------------- end to end
@pytest.fixture
def captured_specs(monkeypatch):
    """Replace the runner's execute: the CLI resolves everything, nothing trains."""
    specs = []

    def fake_execute(spec, instance, out_dir, **kwargs):
        specs.append(spec)
        return hippo_bench.runner.RunOutcome(spec, "ok", None, None)

    monkeypatch.setattr(hippo_bench.runner, "execute", fake_execute)
    return specs


@pytest.fixture
def preset_dir(tmp_path, monkeypatch):
    """Presets read from a temporary folder instead of benchmark/presets/."""
    folder = tmp_path / "presets"
    folder.mkdir()
    monkeypatch.setattr(hippo_bench.presets, "resources", types.SimpleNamespace(files=lambda _name: folder))
    return folder


def test_precedence_defaults_preset_yaml_flags(captured_specs, preset_dir, tmp_path, run_cli, tiny_bench):
    (preset_dir / "spine-test.yaml").write_text(
        "description: test preset\nstrategy: ewc\nbenchmark: split-patterns\nepochs: 2\nseeds: [4]\n"
        "lr: 0.11\newc_lambda: 5.0\nmode: online\n"
        "benchmark_params: {noise: 0.1}\nmodel_params: {hidden: [32]}\n")
    config = tmp_path / "run.yaml"
    config.write_text("lr: 0.22\newc_lambda: 6.0\nseeds: [7, 8]\nmodel_params: {hidden: [16, 16]}\n")
    code, out, err = run_cli("run", "--preset", "spine-test", "--config", config, "--lr", "0.33",
                             *tiny_bench, "--out", tmp_path / "r")
    assert code == 0, err
    assert [s.seed for s in captured_specs] == [7, 8]  # YAML beats preset
    spec = captured_specs[0]
    assert spec.strategy.name == "ewc"  # from the preset
    c = spec.strategy_config
    assert c.lr == 0.33  # flag beats YAML and preset
    assert c.ewc_lambda == 6.0  # YAML beats preset
    assert c.mode == "online"  # preset beats default
    assert c.decay_factor == 0.9 and c.momentum == 0.0  # defaults
    assert spec.epochs == 2 and spec.preset == "spine-test"
    assert spec.model_config.hidden == [16, 16]
    assert math.isclose(spec.benchmark_config.noise, 0.1) and spec.benchmark_config.n_classes == 4


def test_flag_beats_yaml_for_run_keys(captured_specs, tmp_path, run_cli, tiny_bench):
    config = tmp_path / "run.yaml"
    config.write_text("strategy: naive\nseeds: [1, 2]\nepochs: 3\n")
    code, _, err = run_cli("run", "--config", config, "--seeds", "5", *tiny_bench, "--out", tmp_path / "r")
    assert code == 0, err
    assert [(s.seed, s.epochs, s.strategy.name) for s in captured_specs] == [(5, 3, "naive")]


@pytest.mark.parametrize("yaml_text, message", [
    ("strategy: naive\nlearning_rate: 0.1\n", "unknown key 'learning_rate'"),
    ("strategy: naive\nlr: fast\n", "lr: expected a number, got 'fast'"),
    ("strategy: naive\nlr: [unclosed\n", "is not valid YAML"),
    ("- just\n- a list\n", "must hold a mapping"),
])
def test_bad_config_file(captured_specs, tmp_path, run_cli, yaml_text, message):
    config = tmp_path / "run.yaml"
    config.write_text(yaml_text)
    code, out, err = run_cli("run", "--config", config, "--out", tmp_path / "r")
    assert code == 2 and message in err and captured_specs == []
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unknown_preset_suggests(preset_dir, run_cli, captured_specs):
    (preset_dir / "rotated-mnist.yaml").write_text("strategy: naive\n")
    code, _, err = run_cli("run", "--preset", "rotated-mnst")
    assert code == 2 and "unknown preset 'rotated-mnst'; did you mean rotated-mnist?" in err


def test_every_strategy_help_prints_its_help_texts_verbatim(run_cli):
    """argparse formats help with %: a help text with a literal % (meta-hippo's "% active") must print as written."""
    from hippo_bench.params import fields_of
    from hippo_bench.strategies import strategies

    for name in strategies.names():
        code, out, err = run_cli("run", "--strategy", name, "--help")
        assert code == 0, (name, err)
        assert "'option_strings'" not in out, name
        for spec in fields_of(strategies.get(name).Config):
            first = spec.help.split()[:3]
            assert not first or " ".join(first) in " ".join(out.split()), (name, spec.name)
