"""compress/core/checkpoint.py: round trips, and every way a file can be unusable or unsafe."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from compress.core import checkpoint as ckpt
from compress.core.checkpoint import (
    FORMAT,
    FORMAT_VERSION,
    build_from_payload,
    load_checkpoint,
    make_payload,
    read_payload,
    save_checkpoint,
)
from compress.core.errors import CompressError
from compress.core.specs import ModelSpec

SPEC = ModelSpec(name="unet", num_classes=3, options={"base_channels": 8})
DATASET = {
    "name": "toy",
    "class_names": ["a", "b", "c"],
    "ignore_index": 255,
    "palette": [(1, 2, 3), (4, 5, 6), (7, 8, 9)],
}


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = SPEC.build()
    with torch.no_grad():  # non-trivial BN statistics, so buffers are checked too
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def test_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    model = _model()
    path = save_checkpoint(
        tmp_path / "sub" / "m.pt",
        model,
        SPEC,
        dataset=DATASET,
        meta={"epoch": 3, "miou": 0.5},
        extra={"optimizer": {"lr": 1e-3}},
    )
    assert path.is_file()
    assert not [p for p in path.parent.iterdir() if p.name != "m.pt"]  # no temp file left
    loaded = load_checkpoint(path)
    assert not loaded.model.training
    assert loaded.spec == SPEC and loaded.path == path
    assert loaded.dataset == DATASET and loaded.meta == {"epoch": 3, "miou": 0.5}
    assert loaded.extra == {"optimizer": {"lr": 1e-3}} and loaded.structure == []
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), loaded.model(x))
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.model.state_dict()[key]), key


def test_payload_layout() -> None:
    payload = make_payload(_model(), SPEC)
    assert payload["format"] == FORMAT and payload["format_version"] == FORMAT_VERSION
    assert payload["model"] == {"name": "unet", "num_classes": 3, "options": {"base_channels": 8}}
    assert all(t.device.type == "cpu" for t in payload["state_dict"].values())


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CompressError, match="is a folder; expected a .pt file"):
        load_checkpoint(tmp_path)  # "does not exist" is said only of what does not exist


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04garbage"])
def test_corrupt_file_is_a_compress_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CompressError, match=f"checkpoint {path} cannot be read safely"):
        load_checkpoint(path)


def test_truncated_checkpoint_is_a_compress_error(tmp_path: Path) -> None:
    good = save_checkpoint(tmp_path / "m.pt", _model(), SPEC)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CompressError, match="cannot be read safely"):
        load_checkpoint(cut)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"state_dict": {}}, "not a segcompress checkpoint"),
        ([1, 2, 3], "not a segcompress checkpoint"),
        ({"format": "other"}, "not a segcompress checkpoint"),
        ({"format": FORMAT, "format_version": 99}, "format_version 99"),
        ({"format": FORMAT, "format_version": FORMAT_VERSION, "model": None}, "'model'"),
        (
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "model": {"name": "no-such-model", "num_classes": 3},
            },
            "unknown model 'no-such-model'",
        ),
        (
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "model": {"name": "unet", "num_classes": 3, "typo": 1},
            },
            "typo",
        ),
    ],
)
def test_wrong_format_is_a_compress_error(tmp_path: Path, payload, message: str) -> None:
    path = tmp_path / "x.pt"
    torch.save(payload, path)
    with pytest.raises(CompressError, match=message):
        load_checkpoint(path)


def test_weights_that_do_not_fit_the_model(tmp_path: Path) -> None:
    payload = make_payload(_model(), SPEC)
    payload["model"]["num_classes"] = 5  # head now has the wrong shape
    path = tmp_path / "m.pt"
    torch.save(payload, path)
    with pytest.raises(CompressError, match="weights do not fit model 'unet'"):
        load_checkpoint(path)
    del payload["state_dict"]
    payload["model"]["num_classes"] = 3
    torch.save(payload, path)
    with pytest.raises(CompressError, match="state_dict. is NoneType"):
        load_checkpoint(path)


def test_unknown_structure_step_is_refused() -> None:
    payload = make_payload(_model(), SPEC, structure=[{"kind": "teleport"}])
    with pytest.raises(CompressError, match=r"structure\[0\]: unknown structure step kind"):
        build_from_payload(payload)


REPLAYED: list[dict] = []


def replay_mark(model: torch.nn.Module, step: dict) -> torch.nn.Module:
    """A stand-in structure replayer (pruning would remove channels here)."""
    REPLAYED.append(step)
    model.replayed = step["value"]
    return model


def test_structure_steps_are_replayed_before_loading(monkeypatch) -> None:
    monkeypatch.setattr(ckpt, "STRUCTURE_REPLAYERS", {})
    ckpt.register_structure_replayer("mark", f"{__name__}:replay_mark")
    REPLAYED.clear()
    step = {"kind": "mark", "value": 7}
    loaded = build_from_payload(make_payload(_model(), SPEC, structure=[step]))
    assert len(REPLAYED) == 1 and REPLAYED[0] == step
    assert loaded.model.replayed == 7
    assert loaded.structure == [step]


class _Exploit:
    """Unpickling this runs ``Path.touch(marker)``: the kind of object weights_only refuses."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_arbitrary_object_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "x": _Exploit(marker)}
    torch.save(payload, path)
    with pytest.raises(CompressError, match="cannot be read safely"):
        load_checkpoint(path)
    assert not marker.exists()
    # the file really is live: an unsafe load would have run the code
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_plain_pickle_file_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Exploit(marker), protocol=2))
    with pytest.raises(CompressError, match="cannot be read safely"):
        read_payload(path)
    assert not marker.exists()


# --- payloads that would save but not load back, and malformed payloads ---------


def test_meta_that_cannot_be_loaded_is_refused_at_save_time(tmp_path: Path) -> None:
    import numpy as np

    with pytest.raises((CompressError, ValueError, TypeError)):
        save_checkpoint(tmp_path / "m.pt", _model(), SPEC, meta={"miou": np.float64(0.5)})


def test_non_dict_state_dict_is_a_compress_error() -> None:
    payload = make_payload(_model(), SPEC)
    payload["state_dict"] = [1, 2]
    with pytest.raises(CompressError):
        build_from_payload(payload)


def test_extra_cannot_overwrite_core_keys() -> None:
    with pytest.raises(ValueError):
        make_payload(_model(), SPEC, extra={"state_dict": {}})


def test_flipped_bytes_inside_a_tensor_are_detected(tmp_path: Path) -> None:
    """A damaged copy loads silently in torch (no CRC check): the stored checksum catches it."""
    import torch

    from compress.core.checkpoint import load_checkpoint, save_checkpoint
    from compress.core.errors import CompressError
    from compress.core.specs import ModelSpec

    spec = ModelSpec(name="unet", num_classes=3, options={"base_channels": 4})
    model = spec.build()
    path = save_checkpoint(tmp_path / "m.pt", model, spec)
    load_checkpoint(path)  # intact: loads
    weight = model.state_dict()["encoders.1.0.0.weight"].numpy().tobytes()
    data = bytearray(path.read_bytes())
    at = data.find(weight[:256])
    assert at > 0
    data[at + 64 : at + 128] = bytes(b ^ 0xFF for b in data[at + 64 : at + 128])
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(bytes(data))
    assert torch.load(damaged, weights_only=True)["state_dict"] is not None  # torch is silent
    with pytest.raises(CompressError, match="damaged.pt is corrupted: its weights do not match"):
        load_checkpoint(damaged)
