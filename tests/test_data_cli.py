"""``hippo-bench data check|download`` and ``run`` without data: one clear message, exit codes."""

from __future__ import annotations

import urllib.error

from data_files import write_omniglot_tree, tiny_omniglot_images

from hippo_bench.data import download as download_mod


def test_check_reports_ok_for_intact_data(run_cli, tiny_mnist, tiny_omniglot):
    root = tiny_mnist[0]
    code, out, _ = run_cli("data", "check", "--data-root", root)
    assert code == 0
    assert f"{root / 'MNIST' / 'raw'}: ok" in out and f"{root / 'omniglot'}: ok" in out
    assert f"{root / 'omniglot-py'}: missing" in out


def test_check_reports_missing_and_corrupt_data_and_fails(run_cli, tiny_mnist, tmp_path):
    root = tiny_mnist[0]
    (root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").write_bytes(b"\0" * 8)
    code, out, _ = run_cli("data", "check", "--data-root", root)
    assert code == 1
    assert "corrupt" in out and "t10k-labels-idx1-ubyte" in out
    assert "hippo-bench data download omniglot" in out


def test_check_marks_an_extracted_tree_without_zips_unverified(run_cli, tmp_path, cache):  # noqa: F811
    write_omniglot_tree(tmp_path, tiny_omniglot_images())
    code, out, _ = run_cli("data", "check", "--data-root", tmp_path)
    assert f"{tmp_path / 'omniglot-py'}: unverified" in out
    assert code == 1  # MNIST is missing


def test_download_without_network_is_one_clear_error(run_cli, tmp_path, monkeypatch, cache):  # noqa: F811
    def offline(root):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setitem(download_mod.FETCHERS, "mnist", (offline, download_mod.FETCHERS["mnist"][1]))
    code, _, err = run_cli("data", "download", "mnist", "--data-root", tmp_path)
    assert code == 2
    assert "could not download mnist" in err and "Name or service not known" in err and "Traceback" not in err


def test_download_skips_data_that_is_already_there(run_cli, tiny_mnist, monkeypatch):
    def must_not_fetch(root):
        raise AssertionError("fetched again")

    monkeypatch.setitem(download_mod.FETCHERS, "mnist", (must_not_fetch, download_mod.FETCHERS["mnist"][1]))
    code, out, _ = run_cli("data", "download", "mnist", "--data-root", tiny_mnist[0])
    assert code == 0 and ": ok" in out


def test_run_without_data_names_the_places_and_the_command(run_cli, tmp_path, monkeypatch, cache):  # noqa: F811
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("HIPPO_BENCH_DATA", str(empty))
    for bench, command, looked in (("rotated-mnist", "hippo-bench data download mnist", empty / "MNIST" / "raw"),
                                   ("omniglot-oml", "hippo-bench data download omniglot", empty / "omniglot")):
        code, _, err = run_cli("run", "--strategy", "naive", "--benchmark", bench, "--out", tmp_path / "out")
        assert code == 2, err
        assert str(looked) in err and command in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_run_with_an_out_of_range_protocol_parameter_names_it(run_cli, tiny_mnist, tmp_path):
    code, _, err = run_cli("run", "--strategy", "naive", "--benchmark", "rotated-mnist", "--data-root",
                           tiny_mnist[0], "--bench-samples-per-task", "60001", "--out", tmp_path / "out")
    assert code == 2 and "--bench-samples-per-task" in err and "60000" in err
