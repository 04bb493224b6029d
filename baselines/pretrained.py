"""Load torchvision's ImageNet backbone weights from the local torch hub cache - never download.

torchvision keeps downloaded weights in ``torch.hub.get_dir()/checkpoints/<file>``
(``$TORCH_HOME/hub/checkpoints/``), the file name being the last part of the weights'
URL, e.g. ``resnet18-f37072fd.pth``. This machine has no internet, so ``pretrained=True``
reads that file if someone put it there and otherwise says exactly which file to put
where. The hex part of the name is the start of the file's SHA-256 (torch.hub's
convention), which is checked so a truncated copy fails clearly rather than oddly.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from baselines.errors import BaselineError

if TYPE_CHECKING:
    import torch
    from torchvision.models import WeightsEnum

_HASH_IN_NAME = re.compile(r"-([a-f0-9]+)\.")  # torch.hub.HASH_REGEX


def checkpoint_path(weights: WeightsEnum) -> Path:
    """Where torchvision would cache ``weights``: ``torch.hub.get_dir()/checkpoints/<file>``."""
    import torch

    filename = Path(urlparse(weights.url).path).name
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def verify_hash(path: Path) -> None:
    """Check ``path`` against the SHA-256 prefix in its name; no prefix means nothing to check."""
    match = _HASH_IN_NAME.search(path.name)
    if match is None:
        return
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if not digest.hexdigest().startswith(match.group(1)):
        raise BaselineError(
            f"pretrained weights {path} are corrupt or not the published file "
            f"(SHA-256 does not start with {match.group(1)}); replace it with a fresh copy"
        )


def load_pretrained_state_dict(weights: WeightsEnum) -> dict[str, torch.Tensor]:
    """The state dict of ``weights`` from the hub cache, loaded with ``weights_only=True``.

    Raises:
        BaselineError: the file is absent (naming the file, where to put it and its
            URL), corrupt, or not a state dict.
    """
    import torch

    path = checkpoint_path(weights)
    if not path.is_file():
        raise BaselineError(
            f"pretrained weights not found: put {path.name} (from {weights.url}) at {path} "
            f"(torch hub cache, $TORCH_HOME/hub/checkpoints/) or use pretrained=False"
        )
    verify_hash(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated or not a torch file
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise BaselineError(f"pretrained weights {path} cannot be read safely ({first})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BaselineError(f"pretrained weights {path} do not hold a state dict of tensors")
    return state


def load_into(
    module: torch.nn.Module,
    weights: WeightsEnum,
    *,
    prefix: str = "",
    exclude: tuple[str, ...] = (),
) -> None:
    """Load ``weights`` strictly into ``module``: the whole published model, or its part
    whose keys start with ``prefix`` (e.g. ``"features."`` for VGG's conv layers), less
    the keys starting with one of ``exclude`` (e.g. ``"fc."``, a classifier not kept)."""
    state = load_pretrained_state_dict(weights)
    if prefix:
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if exclude:
        state = {k: v for k, v in state.items() if not k.startswith(exclude)}
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0][:200]
        path = checkpoint_path(weights)
        raise BaselineError(
            f"pretrained weights {path} do not fit {type(module).__name__} ({first})"
        ) from None
