"""The poster's claims as experiments: each runs (or reuses) its runs, tests its claim over seeds, and reports.

One module per claim; :data:`EXPERIMENTS` maps the command name to its class.
"""

from __future__ import annotations

from hippo_bench.experiments.architecture import Architecture
from hippo_bench.experiments.base import Experiment, Verdict  # noqa: F401
from hippo_bench.experiments.chorse_signatures import ChorseSignatures
from hippo_bench.experiments.claims import DepthHierarchy, DualPathways, LastProjectionFastest
from hippo_bench.experiments.hippocampus import Hippocampus
from hippo_bench.experiments.brain_score import BrainScore
from hippo_bench.experiments.lesions import LesionDissociation
from hippo_bench.experiments.open_questions import LastLayerLr, Transfer
from hippo_bench.experiments.robustness import Robustness
from hippo_bench.experiments.size import Size

# The poster's claims in its order (1 robustness ... 7 C-HORSE signatures), then the brain-likeness score and
# the open questions.
EXPERIMENTS: dict[str, type[Experiment]] = {
    cls.name: cls for cls in (Robustness, DepthHierarchy, DualPathways, Hippocampus, LastProjectionFastest,
                              LesionDissociation, ChorseSignatures, BrainScore, Size, LastLayerLr, Transfer,
                              Architecture)
}
