"""Representational and behavioural analyses of networks on the synthetic CLS paradigms, and meta-hippo's pattern.

Pattern similarity of hidden layers, production of associated items on the
output, lesion sweeps over a model's pathways, the tidy-row probe that
combines them, and the tables printed at the end of a run; meta-hippo's
learned sparsity and learning rates, measured and tabulated
(:mod:`.learned_pattern`).
"""
