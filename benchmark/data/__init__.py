"""The data layer: where data sets live, how they are checked, read and cached.

- :mod:`~hippo_bench.data.locate`: which folders a reader searches and the
  message when a data set is missing;
- :mod:`~hippo_bench.data.integrity`: file checksums (remembered per file
  size and modification time, so a 47 MB file is hashed once);
- :mod:`~hippo_bench.data.cache`: the atomic, key-addressed preprocessing cache;
- :mod:`~hippo_bench.data.mnist`, :mod:`~hippo_bench.data.omniglot`: readers;
- :mod:`~hippo_bench.data.images`: vectorised image transforms (rotation, resize);
- :mod:`~hippo_bench.data.download`: fetching through torchvision when online.

The data root may be read-only; everything this package writes goes under
:func:`hippo_bench.data_root.cache_dir`.
"""
