from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from compress.core.errors import CompressError
from compress.reporting.plots.examples import (
    Example,
    ImageScore,
    plot_examples,
    resolve_classes,
    score_images,
    select_examples,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAMES = ["background", "vehicle", "road"]
IGNORE = 255


class EchoModel(nn.Module):
    """Predicts the class ids written into the image's first channel (full control of IoU)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = x[:, 0].round().long().clamp(0, self.num_classes - 1)
        logits = nn.functional.one_hot(ids, self.num_classes).permute(0, 3, 1, 2).float()
        return logits * self.scale


class TinyDataset:
    """The SegmentationFolder interface: items, load_raw, info, pairs."""

    def __init__(self, preds: list[torch.Tensor], targets: list[torch.Tensor]) -> None:
        self.preds, self.targets = preds, targets
        self.info = SimpleNamespace(
            class_names=NAMES, ignore_index=IGNORE, palette=None, num_classes=len(NAMES)
        )
        self.pairs = [(Path(f"img{i}.png"), Path(f"img{i}_lab.png")) for i in range(len(preds))]

    def __len__(self) -> int:
        return len(self.preds)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.preds[index].float().expand(3, -1, -1).clone()
        return image, self.targets[index]

    def load_raw(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (self.preds[index] * 80).to(torch.uint8).expand(3, -1, -1), self.targets[index]


def make_dataset() -> TinyDataset:
    size = 16
    preds, targets = [], []
    # image 0: road on the left half, predicted perfectly (road IoU 1, background IoU 1)
    gt = torch.zeros(size, size, dtype=torch.long)
    gt[:, :8] = 2
    preds.append(gt.clone())
    targets.append(gt)
    # image 1: road in the top-left quadrant, predicted as the whole left half (road IoU 0.5)
    gt = torch.zeros(size, size, dtype=torch.long)
    gt[:8, :8] = 2
    pred = torch.zeros(size, size, dtype=torch.long)
    pred[:, :8] = 2
    preds.append(pred)
    targets.append(gt)
    # image 2: a 4x4 vehicle, missed (vehicle IoU 0, background 240/256)
    gt = torch.zeros(size, size, dtype=torch.long)
    gt[4:8, 4:8] = 1
    preds.append(torch.zeros(size, size, dtype=torch.long))
    targets.append(gt)
    # image 3: no vehicle, but one is predicted (not ranked for vehicles); one ignored pixel
    gt = torch.zeros(size, size, dtype=torch.long)
    gt[0, 0] = IGNORE
    pred = torch.zeros(size, size, dtype=torch.long)
    pred[10:12, 10:12] = 1
    preds.append(pred)
    targets.append(gt)
    return TinyDataset(preds, targets)


def test_scores_per_image() -> None:
    scores = score_images(EchoModel(3), make_dataset(), num_classes=3, ignore_index=IGNORE)
    assert scores[0].iou == [1.0, None, 1.0]
    assert scores[1].iou[2] == pytest.approx(0.5)
    assert scores[1].iou[0] == pytest.approx(128 / 192)
    assert scores[2].iou == [pytest.approx(240 / 256), 0.0, None]
    assert scores[3].iou[1] == 0.0 and scores[3].present == [True, False, False]
    assert scores[3].iou[0] == pytest.approx(251 / 255)  # the ignored pixel is left out


def test_select_best_and_worst_per_class() -> None:
    scores = score_images(EchoModel(3), make_dataset(), num_classes=3, ignore_index=IGNORE)
    chosen = select_examples(scores, per_class=1)
    assert [(e.class_index, e.kind, e.image_index) for e in chosen] == [
        (0, "best", 0),
        (0, "worst", 1),
        (1, "best", 2),  # the only image holding a vehicle; image 3 (false alarm) is not ranked
        (2, "best", 0),
        (2, "worst", 1),
    ]
    assert chosen[4].iou == pytest.approx(0.5)
    two = select_examples(scores, per_class=2, classes=[0])
    assert [(e.kind, e.rank, e.image_index) for e in two] == [
        ("best", 1, 0),
        ("best", 2, 3),
        ("worst", 1, 1),
        ("worst", 2, 2),
    ]


def test_select_ties_and_errors() -> None:
    scores = [ImageScore(i, [0.5], [True]) for i in range(3)]
    assert select_examples(scores, per_class=1) == [
        Example(0, "best", 1, 0, 0.5),
        Example(0, "worst", 1, 1, 0.5),
    ]
    assert select_examples([], per_class=1) == []
    with pytest.raises(CompressError, match="per_class must be >= 1"):
        select_examples(scores, per_class=0)


def test_plot_examples_writes_png(tmp_path: Path) -> None:
    path = tmp_path / "examples.png"
    chosen = plot_examples(EchoModel(3), make_dataset(), path, per_class=1, device="cpu")
    assert len(chosen) == 5
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1024


def test_plot_examples_without_candidates(tmp_path: Path) -> None:
    dataset = make_dataset()
    dataset.preds, dataset.targets = dataset.preds[:2], dataset.targets[:2]
    with pytest.raises(CompressError, match="contains any of the classes vehicle"):
        plot_examples(EchoModel(3), dataset, tmp_path / "x.png", classes=[1])
    assert not (tmp_path / "x.png").exists()


def test_resolve_classes() -> None:
    assert resolve_classes(None, NAMES) is None
    assert resolve_classes(["road", "1"], NAMES) == [2, 1]
    with pytest.raises(CompressError, match="'car' is not a class.*background, vehicle, road"):
        resolve_classes(["car"], NAMES)
    with pytest.raises(CompressError, match="ids 0..2"):
        resolve_classes(["3"], NAMES)


def test_examples_from_a_checkpoint_and_folder(tmp_path: Path) -> None:
    """End to end: a tiny UNet checkpoint on a synthetic folder data set."""
    from baselines import get_model
    from compress.core.checkpoint import save_checkpoint
    from compress.core.specs import ModelSpec
    from compress.data import write_synthetic_dataset
    from compress.reporting.plots.examples import ExamplesSpec, examples_from_checkpoint

    data = write_synthetic_dataset(tmp_path / "data", n=5, size=64, seed=3)
    spec = ModelSpec(name="unet", num_classes=8, options={"base_channels": 8})
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "model.pt", get_model("unet", num_classes=8, base_channels=8), spec)
    out = tmp_path / "examples.png"
    chosen = examples_from_checkpoint(
        ExamplesSpec(
            checkpoint=tmp_path / "model.pt",
            data=data,
            split="test",
            out=out,
            device="cpu",
            classes=["road", "0"],
        )
    )
    assert chosen and {e.class_index for e in chosen} <= {0, 2}
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    wrong = ModelSpec(name="unet", num_classes=3, options={"base_channels": 8})
    save_checkpoint(tmp_path / "three.pt", get_model("unet", num_classes=3, base_channels=8), wrong)
    with pytest.raises(CompressError, match="predicts 3 classes but data set .* has 8"):
        examples_from_checkpoint(
            ExamplesSpec(checkpoint=tmp_path / "three.pt", data=data, out=out, device="cpu")
        )


def test_twelve_examples_fit_a_screen(tmp_path: Path) -> None:
    from PIL import Image

    dataset = make_dataset()
    # 12 images: three copies of the four, so per_class=2 picks best and worst twice over
    dataset.preds, dataset.targets = dataset.preds * 3, dataset.targets * 3
    dataset.pairs = dataset.pairs * 3
    path = tmp_path / "examples.png"
    chosen = plot_examples(EchoModel(3), dataset, path, per_class=2, device="cpu")
    assert len(chosen) >= 10
    width, height = Image.open(path).size
    assert height <= 2 * width  # a grid a screen can show, not one tall column
