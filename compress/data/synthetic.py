"""The synthetic aerial data set: ``SyntheticSpec`` and ``write_synthetic_dataset``.

Scenes are drawn by :mod:`compress.data.scenes` (``render_scene``, deterministic from a
seed); this module writes a split tree of them (images, masks, ``dataset.yaml``) into a
folder atomically, and reuses a folder that already holds the same spec.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image
from pydantic import Field, model_validator

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.specs import Spec, parse_spec
from compress.data.info import DESCRIPTOR, SYNTHETIC_AERIAL, read_descriptor
from compress.data.scenes import GENERATOR_VERSION, render_scene

logger = logging.getLogger(__name__)


class SyntheticSpec(Spec):
    """How a synthetic data set is generated; stored as ``generator:`` in dataset.yaml."""

    n: int = Field(ge=3, le=1_000_000)
    size: int = Field(ge=16, le=8192)
    seed: int = Field(ge=0)
    val_fraction: float = Field(default=0.2, gt=0, lt=1)
    test_fraction: float = Field(default=0.2, gt=0, lt=1)

    @model_validator(mode="after")
    def _every_split_gets_one(self) -> SyntheticSpec:
        sizes = self.split_sizes()
        if sizes["train"] < 1:
            raise ValueError(
                f"n={self.n} with val_fraction={self.val_fraction} and test_fraction="
                f"{self.test_fraction} leaves no training image; raise n or lower the fractions"
            )
        return self

    def split_sizes(self) -> dict[str, int]:
        """Images per split: val and test get their fraction (at least 1), train the rest."""
        val = max(1, round(self.n * self.val_fraction))
        test = max(1, round(self.n * self.test_fraction))
        return {"train": self.n - val - test, "val": val, "test": test}

    def generator_block(self) -> dict[str, Any]:
        return {**self.model_dump(), "version": GENERATOR_VERSION}


def scene_seed(seed: int, index: int) -> int:
    """The seed of scene ``index`` of a data set generated with ``seed`` (independent streams)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def write_synthetic_dataset(
    out: str | os.PathLike[str],
    *,
    n: int,
    size: int,
    seed: int,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Write ``n`` scenes in the FloodNet layout under ``out`` and return ``out``.

    ``{train,val,test}/image/scene_*.png`` + ``{split}/mask/scene_*.png`` and a
    ``dataset.yaml`` (the SYNTHETIC_AERIAL descriptor plus a ``generator`` block).
    The tree is built in a temporary folder beside ``out`` and renamed into place. An
    existing ``out`` generated with the same parameters is reused; anything else there
    is an error, never overwritten. ``log`` receives one line saying what happened.
    """
    spec = parse_spec(
        SyntheticSpec,
        {
            "n": n,
            "size": size,
            "seed": seed,
            "val_fraction": val_fraction,
            "test_fraction": test_fraction,
        },
        source="synthetic data set",
    )
    out, say = Path(os.path.abspath(out)), log or logger.info
    if _reusable(out, spec):
        say(f"reusing {out}: it already holds this data set (n={n}, size={size}, seed={seed})")
        return out
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # e.g. a path component is a file
        raise CompressError(
            f"cannot create {out.parent} ({error.strerror}); choose another --out"
        ) from None
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the published data set should not be
    try:
        _write_tree(tmp, spec)
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        try:
            os.rename(tmp, out)
        except OSError:  # another process published first: reuse it if it matches
            if not _reusable(out, spec):
                raise
            say(f"reusing {out}: written concurrently with the same parameters")
            return out
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    sizes = spec.split_sizes()
    say(
        f"wrote {n} scenes of {size}x{size} to {out} "
        f"(train {sizes['train']}, val {sizes['val']}, test {sizes['test']})"
    )
    return out


def _write_tree(root: Path, spec: SyntheticSpec) -> None:
    digits = max(5, len(str(spec.n - 1)))
    index = 0
    for split, count in spec.split_sizes().items():
        for sub in ("image", "mask"):
            (root / split / sub).mkdir(parents=True)
        for _ in range(count):
            image, mask = render_scene(scene_seed(spec.seed, index), spec.size)
            name = f"scene_{index:0{digits}d}.png"
            Image.fromarray(image).save(root / split / "image" / name, format="PNG")
            Image.fromarray(mask).save(root / split / "mask" / name, format="PNG")
            index += 1
    descriptor = {**SYNTHETIC_AERIAL.model_dump(mode="json"), "generator": spec.generator_block()}
    text = yaml.safe_dump(descriptor, sort_keys=False, default_flow_style=None)
    atomic.write_text(root / DESCRIPTOR, text)


def _reusable(out: Path, spec: SyntheticSpec) -> bool:
    """True if ``out`` holds exactly this data set; False if absent or empty; else an error."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise CompressError(f"{out} exists and is not a folder; choose another --out")
    if not any(out.iterdir()):
        return False
    refuse = "refusing to overwrite it; choose another --out or delete the folder"
    if not (out / DESCRIPTOR).is_file():
        raise CompressError(f"{out} already exists and holds no {DESCRIPTOR}; {refuse}")
    generator = read_descriptor(out / DESCRIPTOR).get("generator")
    if not isinstance(generator, dict):
        raise CompressError(
            f"{out / DESCRIPTOR} has no 'generator' block: not written by `compress data synth`; "
            f"{refuse}"
        )
    wanted = spec.generator_block()
    if generator != wanted:
        diffs = (
            ", ".join(
                f"{key}={generator.get(key)!r} (requested {value!r})"
                for key, value in wanted.items()
                if generator.get(key) != value
            )
            or f"unexpected keys {sorted(set(generator) - set(wanted))}"
        )
        raise CompressError(f"{out} holds a synthetic data set generated with {diffs}; {refuse}")
    for split, count in spec.split_sizes().items():
        for sub in ("image", "mask"):
            found = len(list((out / split / sub).glob("*.png")))
            if found != count:
                raise CompressError(
                    f"{out / split / sub} has {found} files but {DESCRIPTOR} promises {count}; "
                    "the folder was modified: delete it and generate again"
                )
    return True
