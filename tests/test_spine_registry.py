"""Registries: registration checks, entry-point plugins, broken plugins."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from conftest import read_runs
from hippo_bench.errors import UserError
from hippo_bench.registry import Registry
from hippo_bench.strategies.base import Strategy

PLUGIN_MODULE = '''
import dataclasses
import avalanche.training as av
from hippo_bench.params import param
from hippo_bench.strategies.base import Strategy, sgd

class Fancy(Strategy):
    description = "a third-party strategy"
    references = ("nobody 2024",)

    @dataclasses.dataclass
    class Config:
        lr: float = param(0.07, "learning rate", min=0.0)

    def build(self, ctx):
        return av.Naive(**ctx.sgd_kwargs(sgd(ctx.model, self.config.lr)))

def not_a_class():
    return None
'''


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """An importable third-party module (``spine_fake_plugin``) and a broken one."""
    (tmp_path / "spine_fake_plugin.py").write_text(PLUGIN_MODULE)
    (tmp_path / "spine_broken_plugin.py").write_text("raise ImportError('needs libfoo 9')\n")
    (tmp_path / "spine_empty_pkg").mkdir()
    (tmp_path / "spine_empty_pkg" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("spine_fake_plugin", "spine_broken_plugin", "spine_empty_pkg"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return tmp_path


def _strategy(name="S"):
    @dataclasses.dataclass
    class Config:
        lr: float = 0.1

    return type(name, (Strategy,), {"Config": Config, "build": lambda self, ctx: None})


def _empty_registry(group=None) -> Registry:
    return Registry("strategy", Strategy, package="spine_empty_pkg", entry_point_group=group)


def test_duplicate_name_rejected(plugin_module):
    reg = _empty_registry()
    first, second = _strategy("A"), _strategy("B")
    reg.register("same")(first)
    with pytest.raises(ValueError, match="duplicate strategy name 'same'"):
        reg.register("same")(second)
    assert reg.get("same") is first


def test_wrong_types_rejected(plugin_module):
    reg = _empty_registry()
    with pytest.raises(TypeError, match="must be a subclass of"):
        reg.register("not-a-strategy")(type("Plain", (), {}))
    with pytest.raises(TypeError, match="must be a subclass of"):
        reg.add("an-instance", _strategy()())
    no_dataclass = type("NoDC", (Strategy,), {"Config": type("Config", (), {})})
    with pytest.raises(TypeError, match="Config must be a dataclass"):
        reg.register("no-dc")(no_dataclass)
    for bad in ("", " padded ", 3):
        with pytest.raises(TypeError, match="non-empty string"):
            reg.register(bad)
    assert reg.names() == []


def test_unknown_name_suggests_close_matches(plugin_module):
    reg = _empty_registry()
    reg.register("replay")(_strategy())
    with pytest.raises(UserError, match="unknown strategy 'replya'; did you mean replay"):
        reg.get("replya")


def test_entry_point_strategy_loaded_lazily(plugin_module, monkeypatch):
    import importlib.metadata

    import hippo_bench.registry as registry_mod

    points = [importlib.metadata.EntryPoint("fancy", "spine_fake_plugin:Fancy", "test.group")]
    asked = []
    monkeypatch.setattr(registry_mod, "_entry_points", lambda group: asked.append(group) or points)
    reg = _empty_registry("test.group")
    assert "spine_fake_plugin" not in sys.modules and asked == []  # nothing imported yet
    cls = reg.get("fancy")
    assert asked == ["test.group"]
    assert cls.__name__ == "Fancy" and cls.name == "fancy"
    assert reg.names() == ["fancy"] and reg.broken == {}


def test_broken_and_wrong_plugins_are_recorded_not_raised(plugin_module, monkeypatch):
    import importlib.metadata

    import hippo_bench.registry as registry_mod

    points = [importlib.metadata.EntryPoint("good", "spine_fake_plugin:Fancy", "g"),
              importlib.metadata.EntryPoint("broken", "spine_broken_plugin:X", "g"),
              importlib.metadata.EntryPoint("func", "spine_fake_plugin:not_a_class", "g")]
    monkeypatch.setattr(registry_mod, "_entry_points", lambda group: points)
    reg = _empty_registry("g")
    assert reg.names() == ["good"]
    assert "needs libfoo 9" in reg.broken["broken"]
    assert "must name a Strategy subclass" in reg.broken["func"]
    with pytest.raises(UserError, match="strategy 'broken' failed to load: .*needs libfoo 9"):
        reg.get("broken")


def test_cli_lists_broken_plugin_and_still_runs(plugin_module, fresh_strategy_registry, run_cli,
                                                 tiny_bench, tmp_path):
    fresh_strategy_registry({"fancy": "spine_fake_plugin:Fancy", "broken": "spine_broken_plugin:X"})
    code, out, err = run_cli("list")
    assert code == 0, err
    assert "Failed to load" in out and "broken" in out and "needs libfoo 9" in out
    assert "fancy" in out and "a third-party strategy" in out and "naive" in out

    code, out, err = run_cli("run", "--strategy", "naive", *tiny_bench, "--out", tmp_path / "r")
    assert code == 0, err
    code, out, err = run_cli("run", "--strategy", "fancy", *tiny_bench, "--out", tmp_path / "r")
    assert code == 0, err
    runs = read_runs(tmp_path / "r")
    assert sorted(runs["strategy"].unique()) == ["fancy", "naive"]
    assert runs.loc[runs["strategy"] == "fancy", "strategy_params"].iloc[0] == '{"lr":0.07}'

    code, out, err = run_cli("run", "--strategy", "broken", *tiny_bench, "--out", tmp_path / "r")
    assert code == 2 and "failed to load" in err and "needs libfoo 9" in err
    assert "Traceback" not in err + out


def test_every_built_in_component_imports():
    """A built-in module that fails to import is only listed as broken by `hippo-bench list`: fail here instead."""
    from hippo_bench.models import models
    from hippo_bench.strategies import strategies
    from hippo_bench.tasks import benchmarks

    for reg in (strategies, benchmarks, models):
        reg.names()
        builtin = {name: err for name, err in reg.broken.items() if not name.startswith("spine_")}
        assert not builtin, f"{reg.kind}: {builtin}"
