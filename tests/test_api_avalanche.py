"""The Python API: strategies built from keywords and used from a plain Avalanche script."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

import hippo_bench
from hippo_bench import LaMAML, MetaHippo, make_model
from hippo_bench.tasks.base import tensor_stream_benchmark

from conftest import REPO


def _mnist_root() -> Path:
    root = os.environ.get("HIPPO_BENCH_DATA")
    if not root:
        pytest.skip("HIPPO_BENCH_DATA is not set: the Avalanche SplitMNIST script needs the MNIST files")
    raw = Path(root) / "MNIST" / "raw"
    missing = [n for n in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte") if not (raw / n).is_file()]
    if missing:
        pytest.skip(f"MNIST is not under {raw} (missing {', '.join(missing)}): the SplitMNIST script needs it")
    return Path(root)


@pytest.fixture
def one_thread():
    """The online learners run fastest on one thread (and the machine is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.data
def test_plain_avalanche_script_split_mnist(one_thread):
    """SplitMNIST from Avalanche, meta-hippo and La-MAML from the API, an Avalanche EvaluationPlugin."""
    from avalanche.benchmarks.classic import SplitMNIST
    from avalanche.evaluation.metrics import accuracy_metrics
    from avalanche.training.plugins import EvaluationPlugin

    bench = SplitMNIST(n_experiences=5, seed=0, dataset_root=str(_mnist_root()))
    torch.manual_seed(0)

    def subsample(exp, n):  # a few seconds of training: n samples of each experience
        exp.dataset = exp.dataset.subset(torch.randperm(len(exp.dataset))[:n].tolist())
        return exp

    train = [subsample(e, 100) for e in list(bench.train_stream)[:2]]
    test = [subsample(e, 200) for e in list(bench.test_stream)[:2]]
    key = "Top1_Acc_Stream/eval_phase/test_stream/Task000"
    built = {
        "meta-hippo": lambda ev: MetaHippo(make_model("mlp2", (1, 28, 28), 10), condition="both", alpha_init=0.1,
                                           evaluator=ev),
        "la-maml": lambda ev: LaMAML(make_model("mlp", (1, 28, 28), 10), glances=5, evaluator=ev),
    }
    for name, build in built.items():
        evaluator = EvaluationPlugin(accuracy_metrics(stream=True), loggers=[])
        strategy = build(evaluator)
        for exp in train:
            strategy.train(exp)
        metrics = strategy.eval(test)
        # Two experiences of two digits each on a 10-way head: chance is 0.1 (0.25 among the four seen digits).
        assert metrics[key] > 0.3, (name, metrics[key])
        assert evaluator.get_last_metrics()[key] == metrics[key]
        pattern = strategy.learned_pattern()  # measured on the last experience's inputs
        assert (pattern["kind"] == "layer").sum() == 2 and (pattern["kind"] == "projection").any()


def _tiny_stream(n=20, dim=4, classes=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    data = [(torch.rand(n, dim, generator=g), torch.randint(0, classes, (n,), generator=g)) for _ in range(2)]
    return tensor_stream_benchmark(data, data)


def test_learned_pattern_of_a_hand_built_net():
    """Identity weights and set inhibition: % active and m per layer are known in advance.

    h1 (k = 2 of 4 units) sees z proportional to (4, 3, 2, 1): with m = 0.5, z - 1.5 leaves three units
    above zero (75 %). h2 then sees (2.5, 1.5, 0.5, 0) and m = 0.9: z - 1.35 leaves two (50 %). The
    second sample is the first reversed, so the shares are the same.
    """
    model = make_model("mlp2", (4,), 3, hidden=[4, 4], k_floor=2)
    with torch.no_grad():
        model.weights["input__h1"].copy_(torch.eye(4))
        model.weights["h1__h2"].copy_(torch.eye(4))
    strategy = MetaHippo(model, condition="both", alpha_init=0.25, evaluator=None)
    with torch.no_grad():
        model.inhibition.copy_(torch.tensor([0.5, 0.9]))
    x = torch.tensor([[4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    pattern = strategy.learned_pattern(x).set_index("name")
    assert list(pattern.columns) == ["kind", "group", "units", "percent_active", "m", "lr", "alpha_raw"]
    assert pattern.loc["h1", "percent_active"] == pytest.approx(75.0)
    assert pattern.loc["h2", "percent_active"] == pytest.approx(50.0)
    assert pattern.loc["h1", "m"] == pytest.approx(0.5) and pattern.loc["h2", "m"] == pytest.approx(0.9)
    assert pattern.loc["h1", "units"] == 4
    projections = pattern[pattern["kind"] == "projection"]
    assert list(projections.index) == ["input->h1", "h1->h2", "h2->out"]
    assert list(projections["group"]) == ["h1", "h2", "output"]
    assert projections["lr"].tolist() == pytest.approx([0.25, 0.25, 0.25])
    assert pd.isna(pattern.loc["h1", "lr"]) and pd.isna(pattern.loc["input->h1", "percent_active"])


def test_learned_pattern_defaults_to_the_last_experience():
    bench = _tiny_stream()
    model = make_model("mlp2", (4,), 2, hidden=[8])
    strategy = MetaHippo(model, evaluator=None)
    with pytest.raises(ValueError, match="nothing trained yet"):
        strategy.learned_pattern()
    strategy.train(bench.train_stream[1])
    x = torch.stack([bench.train_stream[1].dataset[i][0] for i in range(20)])
    pd.testing.assert_frame_equal(strategy.learned_pattern(), strategy.learned_pattern(x))


def test_wrong_keyword_is_a_type_error_naming_it():
    model = make_model("mlp2", (4,), 2, hidden=[8])
    with pytest.raises(TypeError, match=r"MetaHippo\(\) got an unexpected keyword argument 'alpha'.*"
                                        r"did you mean .*alpha_init"):
        MetaHippo(model, alpha=0.1)
    with pytest.raises(TypeError, match=r"make_model\('mlp2'\) got an unexpected keyword argument 'hiden'"):
        make_model("mlp2", (4,), 2, hiden=[8])
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        MetaHippo("mlp2")


def test_wrong_value_is_a_value_error_with_the_cli_message():
    model = make_model("mlp2", (4,), 2, hidden=[8])
    with pytest.raises(ValueError, match=r"^MetaHippo\(\): alpha_init: must be >= 0.0, got -1.0$"):
        MetaHippo(model, alpha_init=-1)
    with pytest.raises(ValueError, match=r"condition: expected one of baseline, sparsity, lr, both, got 'all'"):
        MetaHippo(model, condition="all")
    with pytest.raises(ValueError, match=r"train_mb_size: must be >= 1, got 0"):
        MetaHippo(model, train_mb_size=0)
    with pytest.raises(ValueError, match="unknown strategy 'ewk'; did you mean ewc"):
        hippo_bench.strategy("ewk", model)
    with pytest.raises(ValueError, match=r"make_model\('mlp2'\): hidden: must be >= 1, got 0"):
        make_model("mlp2", (4,), 2, hidden=[0])


def test_any_registered_strategy_by_name_with_avalanche_metrics():
    """strategy("ewc", ...) is Avalanche's EWC; the default evaluator reports Avalanche's accuracy."""
    from avalanche.training import EWC
    from avalanche.training.plugins import EWCPlugin

    bench = _tiny_stream()
    strategy = hippo_bench.strategy("ewc", make_model("mlp", (4,), 2, hidden=[8]), ewc_lambda=5.0, lr=0.1)
    assert type(strategy) is EWC  # Avalanche's own strategy object, as EWC(...) would build it
    assert [p.ewc_lambda for p in strategy.plugins if isinstance(p, EWCPlugin)] == [5.0]
    assert strategy.train_mb_size == 10  # attributes come from the template
    strategy.train(bench.train_stream[0])
    metrics = strategy.eval(bench.test_stream)
    assert 0.0 <= metrics["Top1_Acc_Stream/eval_phase/test_stream/Task000"] <= 1.0


def test_user_plugins_list_is_not_changed_and_training_metrics_work_on_meta_templates():
    from avalanche.evaluation.metrics import accuracy_metrics
    from avalanche.training.plugins import EvaluationPlugin

    plugins: list = []
    evaluator = EvaluationPlugin(accuracy_metrics(minibatch=True, epoch=True, stream=True), loggers=[])
    strategy = MetaHippo(make_model("mlp2", (4,), 2, hidden=[8]), plugins=plugins, evaluator=evaluator)
    strategy.train(_tiny_stream().train_stream[0])
    assert plugins == []
    assert "Top1_Acc_Epoch/train_phase/train_stream/Task000" in evaluator.get_last_metrics()


def test_run_from_python_returns_the_tidy_table(tmp_path):
    params = {"n_classes": 4, "classes_per_exp": 2, "dim": 16, "train_per_class": 10, "test_per_class": 5}
    df = hippo_bench.run("naive", benchmark="split-patterns", seeds=[0, 1], lr=0.1, benchmark_params=params)
    assert sorted(df["seed"].unique()) == [0, 1] and set(df["status"]) == {"ok"}
    assert set(df["strategy"]) == {"naive"} and '"lr":0.1' in df["strategy_params"].iloc[0]
    acc = df[(df["metric"] == "accuracy") & (df["train_exp"] == 1)]
    assert len(acc) == 4  # 2 seeds x 2 evaluated experiences
    assert not list(tmp_path.iterdir())
    again = hippo_bench.run("naive", benchmark="split-patterns", seeds=[0], out=tmp_path, lr=0.1,
                            benchmark_params=params)
    assert [p.name for p in tmp_path.glob("*.parquet")] == [f"{again['run_id'].iloc[0]}.parquet"]
    with pytest.raises(TypeError, match="unknown key 'lrr'"):
        hippo_bench.run("naive", benchmark="split-patterns", lrr=0.1)
    with pytest.raises(ValueError, match="lr: must be >= 0.0"):
        hippo_bench.run("naive", benchmark="split-patterns", lr=-1)


def test_import_stays_light_and_names_are_documented():
    code = "import sys, hippo_bench; print(hippo_bench.__version__); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.split() == [hippo_bench.__version__, "False"]
    import hippo_bench.api as api

    for name in ("MetaHippo", "LaMAML", "SparseMAML", "OML", "MER", "make_model", "run", "strategy",
                 "AvalancheStrategy"):
        obj = getattr(hippo_bench, name)
        assert obj is getattr(api, name) and obj.__doc__, name
    assert (Path(api.__file__).parent / "py.typed").is_file()


def test_every_named_meta_learner_trains_through_the_api(one_thread):
    from hippo_bench import MER, OML, SparseMAML

    bench = _tiny_stream()
    for cls in (SparseMAML, MER):
        strategy = cls(make_model("mlp", (4,), 2, hidden=[8]), evaluator=None, glances=1) if cls is SparseMAML \
            else cls(make_model("mlp", (4,), 2, hidden=[8]), evaluator=None)
        strategy.train(bench.train_stream[0])
        assert hippo_bench.api.built_by(strategy).name == cls.registry_name
        assert isinstance(strategy, cls) and strategy.clock.train_exp_counter == 1
    g = torch.Generator().manual_seed(0)
    images = [(torch.rand(6, 1, 28, 28, generator=g), torch.randint(0, 2, (6,), generator=g)) for _ in range(2)]
    stream = tensor_stream_benchmark(images, images)
    with pytest.raises(ValueError, match="head_lr=0 sweeps"):
        OML(make_model("oml-net", (1, 28, 28), 2), evaluator=None)
    oml = OML(make_model("oml-net", (1, 28, 28), 2), head_lr=0.01, evaluator=None)
    frozen = {n: p.clone() for n, p in oml.model.representation.named_parameters()}
    oml.train(stream.train_stream[0])
    assert all(torch.equal(p, frozen[n]) for n, p in oml.model.representation.named_parameters())
    assert hippo_bench.api.built_by(oml).strategy_impl.head_lr == 0.01


def test_a_strategy_is_its_avalanche_template_built_without_warnings(capsys):
    """What the API returns is the template the registered strategy builds; Avalanche finds its plugins compatible.

    Avalanche reports a plugin with callbacks its template does not declare with ``warnings.warn``
    (``BaseTemplate._check_plugin_compatibility``); warnings, log records and printed output are all captured.
    """
    import logging

    from avalanche.training import EWC

    from hippo_bench import MER, OML, SparseMAML
    from hippo_bench.strategies.meta.template import OnlineMetaTemplate

    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    built = {}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            built["meta-hippo"] = MetaHippo(make_model("mlp2", (4,), 2, hidden=[8]))
            built["la-maml"] = LaMAML(make_model("mlp", (4,), 2, hidden=[8]))
            built["sparse-maml"] = SparseMAML(make_model("mlp", (4,), 2, hidden=[8]))
            built["mer"] = MER(make_model("mlp", (4,), 2, hidden=[8]))
            built["oml"] = OML(make_model("oml-net", (1, 28, 28), 2), head_lr=0.01)
            built["ewc"] = hippo_bench.strategy("ewc", make_model("mlp", (4,), 2, hidden=[8]))
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    out, err = capsys.readouterr()
    assert [str(w.message) for w in caught] == [] and records == [] and out == err == ""
    for name in ("meta-hippo", "la-maml", "sparse-maml"):
        assert isinstance(built[name], OnlineMetaTemplate)
    assert type(built["ewc"]) is EWC
    for name, template in built.items():
        by = hippo_bench.api.built_by(template)
        assert by.name == name and by.template is template and template.plugins.index(by) < \
            template.plugins.index(template.evaluator)  # it sets mb_output before the evaluator reads it
        assert isinstance(template, hippo_bench.AvalancheStrategy)
    assert isinstance(built["meta-hippo"], MetaHippo) and not isinstance(built["la-maml"], MetaHippo)
    assert isinstance(hippo_bench.strategy("meta-hippo", make_model("mlp2", (4,), 2, hidden=[8]), evaluator=None),
                      MetaHippo)
    with pytest.raises(TypeError, match="hippo_bench.strategy"):
        hippo_bench.AvalancheStrategy(make_model("mlp", (4,), 2))
