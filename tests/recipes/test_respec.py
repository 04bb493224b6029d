"""``compress run runs/x/spec.yaml``: every run kind but train is its VariantSpec, rerun."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compress.cli import main
from compress.core.results import load_result

FRESH = ["--model", "unet", "-o", "base_channels=8", "--input-size", "32x32", "--no-progress"]


@pytest.mark.parametrize(
    ("command", "checkpoint"),
    [
        (["prune", "--ratio", "0.5", "--no-bench"], "pruned.pt"),
        (["factorize", "--method", "tucker", "--rank", "0.5"], "factorized.pt"),
    ],
)
def test_a_run_folder_reruns_from_its_variant_spec(
    command: list[str], checkpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first"
    assert main([*command, *FRESH, "--out", str(first)]) == 0
    document = yaml.safe_load((first / "spec.yaml").read_text())
    assert document["kind"] == command[0] and set(document) == {"kind", "digest", "spec"}
    assert document["spec"]["steps"][0]["kind"] == command[0]  # a VariantSpec
    capsys.readouterr()
    assert main(["run", str(first / "spec.yaml")]) == 0  # the same folder: found finished
    assert "finished" in capsys.readouterr().out
    again = tmp_path / "again"
    assert main(["run", str(first / "spec.yaml"), "--out", str(again)]) == 0
    old, new = load_result(first), load_result(again)
    assert new.kind == old.kind == command[0] and (again / checkpoint).is_file()
    assert (new.params, new.macs, new.size_bytes) == (old.params, old.macs, old.size_bytes)
    assert (again / "spec.yaml").read_text() == (first / "spec.yaml").read_text()


def test_a_default_folder_is_named_by_its_kind_and_keyed_by_the_variant_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["prune", "--ratio", "0.5", "--no-bench", *FRESH]) == 0
    [folder] = (tmp_path / "runs").iterdir()
    document = yaml.safe_load((folder / "spec.yaml").read_text())
    assert folder.name == f"prune-unet-l2-{document['digest'][:8]}"


def test_a_run_folder_from_before_the_re_keying_is_refused_with_a_pointer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = {"kind": "prune", "digest": "0" * 12, "spec": {"model": "unet", "prune": {"ratio": 0.5}}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(old))
    assert main(["run", str(tmp_path / "spec.yaml")]) == 2
    err = capsys.readouterr().err
    assert "Changelog" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]  # left as it was
    assert yaml.safe_load((tmp_path / "spec.yaml").read_text()) == old


def test_a_quantize_folder_reruns_as_its_kind(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ONNX-ending kind reruns like the others; its baseline keeps its source's name."""
    from compress.core.checkpoint import save_checkpoint
    from compress.core.specs import ModelSpec

    spec = ModelSpec(name="unet", num_classes=8, options={"base_channels": 8})
    checkpoint = save_checkpoint(tmp_path / "base" / "best.pt", spec.build().eval(), spec)
    out = tmp_path / "int8"
    argv = ["quantize", "--checkpoint", str(checkpoint), "--data", str(tiny_data)]
    fast = ["--calib-images", "2", "--input-size", "64x64", "--runs", "1", "--warmup", "0"]
    assert main([*argv, *fast, "--no-progress", "--out", str(out)]) == 0
    first = load_result(out)
    assert first.kind == "quantize" and first.baseline == "base"
    capsys.readouterr()
    assert main(["run", str(out / "spec.yaml"), "--no-progress"]) == 0
    assert "quantize run" in capsys.readouterr().out and load_result(out).created == first.created
