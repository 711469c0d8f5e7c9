"""The online meta-learning loop of the La-MAML family, one module per concern (docs/DESIGN.md, "The meta-learning loop").

- :mod:`.template`: the loop itself (:class:`~.template.OnlineMetaTemplate`),
  its settings and declared hooks (:class:`~.template.LoopConfig`);
- :mod:`.fast_weights`: how steps 2-3 of the loop (inner loop, meta-loss)
  are computed: low-rank, materialised or second order;
- :mod:`.step_sizes`: how an inner step size is parametrised;
- :mod:`.replay`: the reservoir the meta-batches draw from;
- :mod:`.gradients`: closed-form loss gradients and the per-group norm clip;
- :mod:`.initialisation`: the papers' weight initialisations.

Nothing is re-exported here: a strategy imports what it uses from the module
that defines it.
"""
