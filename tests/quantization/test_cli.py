"""``compress quantize``: options become a one-step VariantSpec; bad inputs exit 2, one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from compress.cli import main


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_options_build_the_spec(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import compress.pipeline.run_kinds as run_kinds

    seen = {}

    def fake_run_as(spec, out, *, kind, progress):  # type: ignore[no-untyped-def]
        seen.update(spec=spec, out=out, kind=kind, progress=progress)
        raise SystemExit(0)

    monkeypatch.setattr(run_kinds, "run_as", fake_run_as)
    monkeypatch.chdir(tmp_path)  # the paths are checked while the options are parsed
    (tmp_path / "c.pt").touch()
    (tmp_path / "d").mkdir()
    with pytest.raises(SystemExit):
        main(
            [
                "quantize",
                "--checkpoint",
                "c.pt",
                "--data",
                "d",
                "--calib-images",
                "8",
                "--calibration",
                "entropy",
                "--per-tensor",
                "--keep-fp32",
                "classifier, head",
                "--input-size",
                "64x96",
                "--reduce-range",
                "off",
                "--out",
                str(tmp_path / "r"),
                "--no-progress",
            ]
        )
    spec = seen["spec"]
    assert seen["kind"] == "quantize" and seen["progress"] is False
    [step] = spec.steps
    assert (step.method, step.calib_images, step.calibration) == ("ptq", 8, "entropy")
    assert step.per_channel is False and step.reduce_range is False
    assert step.keep_fp32 == ["classifier", "head"] and spec.bench.input_size == (64, 96)
    assert spec.baseline.checkpoint == "c.pt" and spec.data == "d" and spec.eval_split == "test"
    assert seen["out"] == tmp_path / "r"
    assert (step.max_drop, step.float_op_types, step.loss) == (None, [], "ce")


def test_accuracy_control_and_qat_loss_flags_reach_the_step(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import compress.pipeline.run_kinds as run_kinds

    seen = {}

    def fake_run_as(spec, out, *, kind, progress):  # type: ignore[no-untyped-def]
        seen.update(spec=spec)
        raise SystemExit(0)

    monkeypatch.setattr(run_kinds, "run_as", fake_run_as)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.pt").touch()
    (tmp_path / "d").mkdir()
    base = ["quantize", "--checkpoint", "c.pt", "--data", "d", "--no-progress"]
    control = ["--max-drop", "0.5", "--control-images", "16", "--max-reverted", "3"]
    with pytest.raises(SystemExit):
        main([*base, *control, "--float-op-types", "HardSigmoid, Mul"])
    [step] = seen["spec"].steps
    assert (step.max_drop, step.control_images, step.max_reverted) == (0.5, 16, 3)
    assert step.float_op_types == ["HardSigmoid", "Mul"]
    qat = ["--method", "qat", "--loss", "ce+dice", "--class-weights", "median-frequency"]
    with pytest.raises(SystemExit):
        main([*base, *qat])
    [step] = seen["spec"].steps
    assert (step.loss, step.class_weights) == ("ce+dice", "median-frequency")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--checkpoint", "{ckpt}"], "--data is required"),
        (["--checkpoint", "{ckpt}", "--data", "{data}", "--calibration", "kl"], "calibration"),
        (["--checkpoint", "{tmp}/missing.pt", "--data", "{data}"], "does not exist"),
        (["--onnx", "{tmp}/corrupt.onnx", "--data", "{data}"], "not a valid ONNX model"),
        (["--checkpoint", "{ckpt}", "--data", "{data}", "--calib-images", "0"], "--calib-images"),
        (["--onnx", "{tmp}/corrupt.onnx", "--method", "qat", "--data", "{data}"], "--checkpoint"),
        (["--checkpoint", "{ckpt}", "--data", "{data}", "--method", "int4"], "method"),
        (["--checkpoint", "{ckpt}", "--data", "{data}", "--reduce-range", "x"], "--reduce-range"),
        (["--checkpoint", "{ckpt}", "--data", "{data}", "--max-drop", "-1"], "max_drop"),
        (["--checkpoint", "{ckpt}", "--data", "{data}", "--loss", "ohem"], "apply to QAT"),
        (
            ["--checkpoint", "{ckpt}", "--data", "{data}", "--method", "qat", "--max-drop", "1"],
            "post-training",
        ),
    ],
)
def test_bad_inputs_exit_2_with_one_line(
    args: list[str],
    message: str,
    unet_checkpoint: Path,
    tiny_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "corrupt.onnx").write_bytes(b"garbage, not protobuf")
    values = {"ckpt": unet_checkpoint, "data": tiny_data, "tmp": tmp_path}
    argv = ["quantize", *(a.format(**values) for a in args), "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    assert message in _error_line(capsys)
    assert not (tmp_path / "run").exists(), "a refused run leaves no folder behind"


def test_ptq_end_to_end_prints_the_comparison(
    unet_checkpoint: Path, tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "quantize",
        "--checkpoint",
        str(unet_checkpoint),
        "--data",
        str(tiny_data),
        "--calib-images",
        "2",
        "--input-size",
        "64x64",
        "--runs",
        "2",
        "--warmup",
        "0",
        "--threads",
        "1",
        "--max-drop",
        "100",
        "--control-images",
        "1",
        "--out",
        str(tmp_path / "run"),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "model.int8.onnx" in out and "reduce_range=" in out
    assert "accuracy control (val): drop" in out and "no layer reverted" in out
    assert ("int8 is NOT faster than fp32 on this machine" in out) or ("faster than fp32" in out)
