"""MNIST and Omniglot readers on tiny files the tests write: shapes, labels, layouts, corrupt files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from data_files import TINY_ALPHABETS, tiny_omniglot_images, write_mnist, write_omniglot_npz, write_omniglot_tree

from hippo_bench.data import mnist as mnist_data
from hippo_bench.data.mnist import find_mnist, read_mnist, verify_mnist
from hippo_bench.data.omniglot import (OmniglotSource, find_omniglot, load_omniglot, read_npz, read_tree)
from hippo_bench.errors import DataError


def test_mnist_reader_returns_the_written_images_and_labels(tiny_mnist):
    root, written = tiny_mnist
    assert find_mnist(root) == root
    assert sorted(verify_mnist(root)) == sorted(mnist_data.MNIST_FILES)
    m = read_mnist(root)
    assert m.train_x.shape == (120, 28, 28) and m.test_x.shape == (40, 28, 28)
    np.testing.assert_array_equal(m.train_x, written["train_x"])
    np.testing.assert_array_equal(m.test_y, written["test_y"])
    assert m.train_y.dtype == np.int64 and m.train_y[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_mnist_corrupt_file_is_refused_naming_it(tiny_mnist):
    root, _ = tiny_mnist
    path = root / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="checksum mismatch for .*train-labels-idx1-ubyte"):
        verify_mnist(root)


def test_missing_mnist_names_every_place_and_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HIPPO_BENCH_DATA", str(tmp_path / "env"))
    monkeypatch.setattr("hippo_bench.data_root.user_data_dir", lambda: tmp_path / "user")
    with pytest.raises(DataError) as err:
        find_mnist(None)
    msg = str(err.value)
    assert str(tmp_path / "env" / "MNIST" / "raw") in msg and str(tmp_path / "user" / "MNIST" / "raw") in msg
    assert "hippo-bench data download mnist" in msg and "\n" not in msg


def test_default_roots_fall_through_to_the_first_that_holds_the_data(tmp_path, monkeypatch):
    write_mnist(tmp_path / "user")
    monkeypatch.setenv("HIPPO_BENCH_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr("hippo_bench.data_root.user_data_dir", lambda: tmp_path / "user")
    assert find_mnist(None) == tmp_path / "user"
    with pytest.raises(DataError):  # an explicit root is the only place looked at
        find_mnist(tmp_path / "empty")


def test_omniglot_npz_reader_keeps_ids_alphabets_and_drawings(tiny_omniglot):
    root, images = tiny_omniglot
    bg = read_npz(root / "omniglot", "background")
    assert bg.images.shape == (5, 20, 12, 12) and bg.images.dtype == bool
    assert bg.char_ids.tolist() == [1, 2, 3, 4, 5]
    assert [(a.name, a.first_id, a.n_characters) for a in bg.alphabets] == TINY_ALPHABETS["background"]
    assert bg.alphabet_of_character().tolist() == [0, 0, 1, 1, 1]
    np.testing.assert_array_equal(bg.images, images["background"])
    assert read_npz(root / "omniglot", "evaluation").char_ids.tolist() == [6, 7, 8, 9]


def test_both_omniglot_layouts_give_the_same_samples(tmp_path, monkeypatch, cache):  # noqa: F811
    images = tiny_omniglot_images()
    tree = write_omniglot_tree(tmp_path / "tree", images)
    for s in ("background", "evaluation"):
        from_tree = read_tree(tree, s)
        np.testing.assert_array_equal(from_tree.images, images[s])
        assert [(a.name, a.first_id, a.n_characters) for a in from_tree.alphabets] == TINY_ALPHABETS[s]
    # the prepared (resized, cached) sets agree too
    write_omniglot_npz(tmp_path / "npz", images)
    from data_files import trust_omniglot_npz

    trust_omniglot_npz(monkeypatch, tmp_path / "npz")
    assert find_omniglot(tmp_path / "tree").layout == "tree"
    assert find_omniglot(tmp_path / "npz").layout == "npz"
    a, b = load_omniglot(tmp_path / "tree", 8), load_omniglot(tmp_path / "npz", 8)
    for s in ("background", "evaluation"):
        assert a[s].images.shape == (len(images[s]), 20, 8, 8) and a[s].images.dtype == np.uint8
        np.testing.assert_array_equal(a[s].images, b[s].images)
        np.testing.assert_array_equal(a[s].char_ids, b[s].char_ids)


def test_prepared_omniglot_pixels_are_paper_255_ink_0(tiny_omniglot):
    root, images = tiny_omniglot
    full = load_omniglot(root, 12)["background"].images  # no resize
    np.testing.assert_array_equal(full, images["background"].astype(np.uint8) * 255)


def test_omniglot_npz_checksum_mismatch_is_refused(tiny_omniglot):
    root, images = tiny_omniglot
    images["evaluation"][0, 0, 0, 0] ^= True
    write_omniglot_npz(root, images)  # rewritten, the trusted sha256 no longer matches
    with pytest.raises(DataError, match="checksum mismatch for .*images_evaluation.npz"):
        read_npz(root / "omniglot", "evaluation")


def test_alphabet_table_must_cover_every_character(tiny_omniglot):
    root, _ = tiny_omniglot
    path = root / "omniglot" / "alphabets.json"
    table = json.loads(path.read_text())
    table["images_background.npz"].pop()
    path.write_text(json.dumps(table))
    with pytest.raises(DataError, match="lists 2 background characters"):
        read_npz(root / "omniglot", "background")


def test_tree_with_a_missing_drawing_is_refused(tmp_path):
    tree = write_omniglot_tree(tmp_path, tiny_omniglot_images())
    (tree / "images_evaluation" / "Beta" / "character02" / "0009_07.png").unlink()
    with pytest.raises(DataError, match="character 9 has drawers"):
        read_tree(tree, "evaluation")


def test_missing_omniglot_names_both_layouts(tmp_path):
    with pytest.raises(DataError) as err:
        find_omniglot(tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "omniglot") in msg and str(tmp_path / "omniglot-py") in msg
    assert "hippo-bench data download omniglot" in msg


def test_tree_zip_checksum_is_checked_when_the_zip_is_there(tmp_path, cache):  # noqa: F811
    tree = write_omniglot_tree(tmp_path, tiny_omniglot_images())
    (tree / "images_background.zip").write_bytes(b"not the official zip")
    with pytest.raises(DataError, match="images_background.zip"):
        load_omniglot(tmp_path, 8)
    assert OmniglotSource(tmp_path, "tree").folder == tree
