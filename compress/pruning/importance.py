"""Channel importance: the torch-pruning object behind ``--importance`` (one table:
:mod:`compress.pruning.criteria`; how gradient criteria read data:
:mod:`compress.pruning.gradients`).

- ``l1`` / ``l2``: group norm of the weights of every coupled layer (torch-pruning's
  ``GroupMagnitudeImportance`` with p=1 / p=2);
- ``bn-scale``: |gamma| of the coupled BatchNorms (groups without BN are left whole);
- ``lamp``: layer-adaptive magnitude (LAMP, Lee et al. 2021), mostly for ``global``;
- ``fpgm``: distance to the geometric median (He et al. 2019): redundant filters first;
- ``taylor``: first-order Taylor |w * dL/dw| from the cross-entropy gradient on real
  batches;
- ``hessian``: second-order saliency w^2 * H (Optimal Brain Damage, torch-pruning's
  ``GroupHessianImportance``), H the mean squared per-image gradient on real batches.
"""

from __future__ import annotations

from typing import Any

from compress.core.errors import CompressError
from compress.pruning.criteria import CRITERIA


def make_importance(name: str) -> Any:
    """The torch-pruning importance object of criterion ``name`` (see ``criteria.py``)."""
    criterion = CRITERIA.get(name)
    if criterion is None:
        raise CompressError(f"unknown importance {name!r}; valid: {', '.join(CRITERIA)}")
    return criterion.factory()
