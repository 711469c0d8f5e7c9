"""Omniglot: the official extracted tree or the two NumPy archives, read into one form.

Two layouts are accepted under a data root (the npz archives are preferred
when both exist: they carry checksums and load fast):

- ``omniglot/images_{background,evaluation}.npz`` plus ``omniglot/alphabets.json``
  (the shared offline copy; format in the shared data README): ``images``
  bool ``(C, 20, 105, 105)``, True = paper, row r = the r-th character id of
  the set; ``alphabets.json`` maps each alphabet to its first id and size;
- ``omniglot-py/images_{background,evaluation}/<Alphabet>/characterNN/IIII_DD.png``,
  the tree torchvision's ``Omniglot(download=True)`` extracts (Lake et al.
  2015, brendenlake/omniglot). torchvision itself cannot read it here: it
  demands the zip and its md5, and lists folders in file-system order.
  Character ids are taken from the file names (``IIII``), drawers from
  ``DD``, and everything is sorted, so class ids are the official ids on
  every machine.

Both give an :class:`OmniglotSet` per official set: images ``(C, 20, H, W)``
ordered by character id and drawer, the ids, and the alphabets.
:func:`load_omniglot` resizes the images (a protocol parameter) and caches
the result keyed by the sources' checksums.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from hippo_bench.data.cache import cached_arrays
from hippo_bench.data.images import resize_uint8
from hippo_bench.data.integrity import file_digest, verify_file
from hippo_bench.data.locate import Finding, missing_data_error, search_roots
from hippo_bench.errors import DataError

FETCH_COMMAND = "hippo-bench data download omniglot"
LAYOUT = "omniglot/*.npz + alphabets.json, or omniglot-py/images_background/ and images_evaluation/"
SETS = ("background", "evaluation")
DRAWERS = 20
NPZ_FOLDER = "omniglot"
TREE_FOLDER = "omniglot-py"
ALPHABETS_FILE = "alphabets.json"
NPZ_SHA256 = {
    "images_background.npz": "8bf84167413cd00beacdce3fe582f780ab538d8dbef043a6d688f2527bbce199",
    "images_evaluation.npz": "0b84c7ffd94c4841c0040e529c86a82eaaccb986d8eadad5673f7991b7475276",
}
# torchvision's md5 of the official zips; checked when the zips sit next to the extracted tree.
ZIP_MD5 = {
    "images_background.zip": "68d2efa1b9178cc56df9314c21c6e718",
    "images_evaluation.zip": "6b91aef0f799c5bb55b94e3f2daec811",
}
PNG_NAME = re.compile(r"^(\d+)_(\d+)\.png$")
CACHE_VERSION = 1


@dataclasses.dataclass
class Alphabet:
    name: str
    first_id: int
    n_characters: int


@dataclasses.dataclass
class OmniglotSet:
    """One official set: ``images (C, 20, H, W)`` by character id and drawer, ids, alphabets.

    Raw readers give bool images (True = paper); :func:`load_omniglot` gives
    uint8 0..255 (paper = 255).
    """

    images: np.ndarray
    char_ids: np.ndarray
    alphabets: list[Alphabet]

    def alphabet_of_character(self) -> np.ndarray:
        """The alphabet index (into ``alphabets``) of every character row."""
        return np.repeat(np.arange(len(self.alphabets)), [a.n_characters for a in self.alphabets])


@dataclasses.dataclass
class OmniglotSource:
    root: Path
    layout: str  # "npz" or "tree"

    @property
    def folder(self) -> Path:
        return self.root / (NPZ_FOLDER if self.layout == "npz" else TREE_FOLDER)


def _npz_missing(folder: Path) -> list[str]:
    return [f for f in (*NPZ_SHA256, ALPHABETS_FILE) if not (folder / f).is_file()]


def _tree_missing(folder: Path) -> list[str]:
    return [f"images_{s}/" for s in SETS if not (folder / f"images_{s}").is_dir()]


def find_omniglot(data_root: str | os.PathLike | None) -> OmniglotSource:
    """The first root holding either layout; DataError naming every place looked at otherwise."""
    looked = []
    for root in search_roots(data_root):
        npz_missing = _npz_missing(root / NPZ_FOLDER)
        if not npz_missing:
            return OmniglotSource(root, "npz")
        tree_missing = _tree_missing(root / TREE_FOLDER)
        if not tree_missing:
            return OmniglotSource(root, "tree")
        looked.append(f"{root / NPZ_FOLDER} (lacks {', '.join(npz_missing)})")
        looked.append(f"{root / TREE_FOLDER} (lacks {', '.join(tree_missing)})")
    raise missing_data_error("Omniglot", looked, FETCH_COMMAND, LAYOUT)


# ------------------------------------------------------------------ npz layout
def _alphabet_table(folder: Path, set_name: str) -> list[Alphabet]:
    path = folder / ALPHABETS_FILE
    try:
        table = json.loads(path.read_text(encoding="utf-8"))[f"images_{set_name}.npz"]
        return [Alphabet(str(a["alphabet"]), int(a["first_character_id"]), int(a["n_characters"])) for a in table]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path} is not a valid alphabet table ({type(exc).__name__}: {exc})") from None


def read_npz(folder: Path, set_name: str) -> OmniglotSet:
    """One set from ``images_<set>.npz`` (checksum verified) and ``alphabets.json``."""
    name = f"images_{set_name}.npz"
    path = folder / name
    verify_file(path, NPZ_SHA256[name], "sha256", FETCH_COMMAND)
    try:
        with np.load(path, allow_pickle=False) as npz:
            images, labels = npz["images"], npz["labels"]
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if images.ndim != 4 or images.shape[1] != DRAWERS or labels.shape != images.shape[:2]:
        raise DataError(f"{path}: expected images (C, {DRAWERS}, H, W) and labels (C, {DRAWERS}), "
                        f"got {images.shape} and {labels.shape}")
    if not (labels == np.arange(len(labels))[:, None]).all():
        raise DataError(f"{path}: labels must equal the row index")
    alphabets = _alphabet_table(folder, set_name)
    if sum(a.n_characters for a in alphabets) != len(images):
        raise DataError(f"{folder / ALPHABETS_FILE} lists {sum(a.n_characters for a in alphabets)} "
                        f"{set_name} characters, {path} holds {len(images)}")
    char_ids = np.concatenate([np.arange(a.first_id, a.first_id + a.n_characters) for a in alphabets])
    return OmniglotSet(np.asarray(images, dtype=bool), char_ids.astype(np.int64), alphabets)


# ----------------------------------------------------------------- tree layout
def _decode_png(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("L")) > 127
    except OSError as exc:
        raise DataError(f"cannot read image {path}: {exc}") from None


def read_tree(folder: Path, set_name: str) -> OmniglotSet:
    """One set from the extracted official tree, sorted by character id and drawer."""
    base = folder / f"images_{set_name}"
    characters: dict[int, tuple[str, dict[int, Path]]] = {}
    for alphabet_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        for char_dir in sorted(p for p in alphabet_dir.iterdir() if p.is_dir()):
            for png in char_dir.iterdir():
                m = PNG_NAME.match(png.name)
                if not m:
                    continue
                cid, drawer = int(m.group(1)), int(m.group(2))
                owner, drawings = characters.setdefault(cid, (alphabet_dir.name, {}))
                if owner != alphabet_dir.name:
                    raise DataError(f"{base}: character {cid} appears in alphabets {owner} and {alphabet_dir.name}")
                drawings[drawer] = png
    if not characters:
        raise DataError(f"{base}: no Omniglot images (<Alphabet>/characterNN/IIII_DD.png) found")
    ids = sorted(characters)
    alphabets: list[Alphabet] = []
    for cid in ids:
        name, drawings = characters[cid]
        if sorted(drawings) != list(range(1, DRAWERS + 1)):
            raise DataError(f"{base}/{name}: character {cid} has drawers {sorted(drawings)}, expected 1..{DRAWERS}")
        if alphabets and alphabets[-1].name == name:
            alphabets[-1].n_characters += 1
        else:
            if any(a.name == name for a in alphabets):
                raise DataError(f"{base}/{name}: its character ids are not contiguous")
            alphabets.append(Alphabet(name, cid, 1))
    images = np.stack([np.stack([_decode_png(characters[cid][1][d]) for d in range(1, DRAWERS + 1)])
                       for cid in ids])
    return OmniglotSet(images, np.asarray(ids, dtype=np.int64), alphabets)


def _tree_listing_digest(folder: Path) -> str:
    """A digest of every PNG's relative path, size and mtime (the tree has no checksums of its own)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".png"):
                p = Path(dirpath) / name
                st = p.stat()
                h.update(f"{p.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _verify_tree_zips(folder: Path) -> dict[str, str]:
    return {name: verify_file(folder / name, md5, "md5", FETCH_COMMAND)
            for name, md5 in ZIP_MD5.items() if (folder / name).is_file()}


# ----------------------------------------------------------------- both layouts
def read_set(source: OmniglotSource, set_name: str) -> OmniglotSet:
    if source.layout == "npz":
        return read_npz(source.folder, set_name)
    return read_tree(source.folder, set_name)


def source_digests(source: OmniglotSource) -> dict[str, str]:
    """Checksums that identify the source (verified where official ones exist)."""
    folder = source.folder
    if source.layout == "npz":
        out = {name: verify_file(folder / name, sha, "sha256", FETCH_COMMAND) for name, sha in NPZ_SHA256.items()}
        out[ALPHABETS_FILE] = file_digest(folder / ALPHABETS_FILE, "sha256")
        return out
    zips = _verify_tree_zips(folder)
    if len(zips) == len(ZIP_MD5):
        return zips
    return {f"images_{s}/": _tree_listing_digest(folder / f"images_{s}") for s in SETS}


def load_omniglot(data_root: str | os.PathLike | None, image_size: int) -> dict[str, OmniglotSet]:
    """Both sets with images resized to ``image_size`` (uint8, paper = 255), cached."""
    source = find_omniglot(data_root)
    key = {"version": CACHE_VERSION, "sources": source_digests(source), "image_size": int(image_size)}

    def compute() -> dict[str, np.ndarray]:
        out = {}
        for s in SETS:
            raw = read_set(source, s)
            c, d, h, w = raw.images.shape
            out[f"{s}_images"] = resize_uint8(raw.images.reshape(c * d, h, w), image_size).reshape(
                c, d, image_size, image_size)
            out[f"{s}_char_ids"] = raw.char_ids
            out[f"{s}_alphabet_names"] = np.array([a.name for a in raw.alphabets])
            out[f"{s}_alphabet_first"] = np.array([a.first_id for a in raw.alphabets], dtype=np.int64)
            out[f"{s}_alphabet_sizes"] = np.array([a.n_characters for a in raw.alphabets], dtype=np.int64)
            del raw
        return out

    arrays = cached_arrays("omniglot", key, compute)
    return {s: OmniglotSet(arrays[f"{s}_images"], arrays[f"{s}_char_ids"],
                           [Alphabet(str(n), int(f), int(k)) for n, f, k in zip(
                               arrays[f"{s}_alphabet_names"], arrays[f"{s}_alphabet_first"],
                               arrays[f"{s}_alphabet_sizes"])])
            for s in SETS}


def check_omniglot(root: Path) -> list[Finding]:
    """What ``hippo-bench data check`` reports for Omniglot under one root (both layouts)."""
    findings = []
    npz_folder, tree_folder = root / NPZ_FOLDER, root / TREE_FOLDER
    missing = _npz_missing(npz_folder)
    if missing:
        findings.append(Finding(npz_folder, "missing", f"lacks {', '.join(missing)}"))
    else:
        try:
            source_digests(OmniglotSource(root, "npz"))
            findings.append(Finding(npz_folder, "ok", "npz archives, sha256 match"))
        except DataError as exc:
            findings.append(Finding(npz_folder, "corrupt", str(exc)))
    missing = _tree_missing(tree_folder)
    if missing:
        findings.append(Finding(tree_folder, "missing", f"lacks {', '.join(missing)}"))
    else:
        try:
            zips = _verify_tree_zips(tree_folder)
        except DataError as exc:
            findings.append(Finding(tree_folder, "corrupt", str(exc)))
        else:
            if len(zips) == len(ZIP_MD5):
                findings.append(Finding(tree_folder, "ok", "extracted tree; its zips' md5 match"))
            else:
                findings.append(Finding(tree_folder, "unverified", "extracted tree; no zips to check md5 against"))
    return findings
