"""The bad-input catalogue: every command, every category of hostile input.

Each case runs the CLI in this process and asserts the user-error contract
(docs/bad-input.md): exit code 2, exactly one line of output, no traceback, the
offending path, field or value named, and no file left under the output folder (nor a
default ``runs/`` folder in the working directory).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from compress.cli import main


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    names: str  # what the one line must mention (a path, field or value), after formatting

    def format(self, files: dict[str, str]) -> tuple[list[str], str]:
        return [part.format(**files) for part in self.argv], self.names.format(**files)


def _cases() -> list[Case]:
    cases: list[Case] = []

    def add(category: str, names: str, *argv: str) -> None:
        cases.append(Case(f"{category}-{len(cases):03d}", argv, names))

    fresh = ("--model", "unet", "--model-option", "base_channels=4")
    # -- usage: unknown commands, options and values of the wrong type -------------------
    add("usage", "nosuch", "nosuch")
    add("usage", "--no-such", "models", "--no-such")
    add("usage", "--runs", "bench", *fresh, "--runs", "abc")
    add("usage", "--epochs", "train", "--model", "unet", "--data", "{data}", "--epochs", "x")
    add("usage", "--data", "sensitivity", "--model", "unet")
    add("usage", "--method", "factorize", "--model", "unet")
    add("usage", "--ratio", "prune", "--model", "unet", "--ratio", "half")
    # -- numbers: non-finite, out of range, of the wrong sign ----------------------------
    train = ("train", "--model", "unet", "--data", "{data}", "--out", "{out}")
    for flag, value in (
        ("--lr", "inf"),
        ("--lr", "nan"),
        ("--lr", "-1"),
        ("--lr", "0"),
        ("--gamma", "inf"),
        ("--gamma", "nan"),
        ("--weight-decay", "inf"),
        ("--weight-decay", "-1"),
        ("--epochs", "0"),
        ("--epochs", "-3"),
        ("--batch-size", "0"),
        ("--crop", "0"),
        ("--crop", "100000"),
        ("--val-every", "0"),
        ("--workers", "-1"),
        ("--milestones", "a,b"),
        ("--milestones", "inf"),
    ):
        add("number", value, *train, flag, value)
    prune = ("prune", *fresh, "--out", "{out}", "--no-bench")
    for flag, value in (
        ("--ratio", "inf"),
        ("--ratio", "nan"),
        ("--ratio", "1"),
        ("--ratio", "0"),
        ("--ratio", "-0.5"),
        ("--target-macs", "inf"),
        ("--target-macs", "0"),
        ("--target-macs", "2"),
        ("--target-latency-ms", "nan"),
        ("--target-latency-ms", "-5"),
        ("--iterative-steps", "0"),
        ("--round-to", "0"),
        ("--finetune-epochs", "-1"),
        ("--lr", "inf"),
        ("--max-images", "0"),
    ):
        ratio = (
            ()
            if flag in ("--ratio", "--target-macs", "--target-latency-ms")
            else ("--ratio", "0.5")
        )
        add("number", value, *prune, *ratio, flag, value)
    factorize = ("factorize", *fresh, "--method", "tucker", "--out", "{out}")
    for flag, value in (
        ("--rank", "0"),
        ("--rank", "-2"),
        ("--rank", "1.5"),
        ("--rank", "inf"),
        ("--rank", "nan"),
        ("--rank", "half"),
        ("--energy", "0"),
        ("--energy", "1.5"),
        ("--energy", "nan"),
        ("--target-macs", "inf"),
        ("--round-to", "0"),
        ("--max-macs-ratio", "0"),
        ("--max-macs-ratio", "inf"),
        ("--cp-max-error", "-1"),
        ("--cp-time-limit", "nan"),
        ("--lr", "nan"),
    ):
        add("number", value, *factorize, flag, value)
    quantize = ("quantize", "--checkpoint", "{ckpt}", "--data", "{data}", "--out", "{out}")
    for flag, value in (
        ("--calib-images", "0"),
        ("--runs", "0"),
        ("--warmup", "-1"),
        ("--threads", "0"),
        ("--epochs", "0"),
        ("--lr", "inf"),
        ("--lr", "nan"),
        ("--batch-size", "0"),
        ("--crop", "4"),
    ):
        add("number", value, *quantize, flag, value)
    bench = ("bench", *fresh, "--out", "{out}")
    for flag, value in (
        ("--runs", "0"),
        ("--warmup", "-1"),
        ("--threads", "0"),
        ("--batch", "0"),
        ("--threads", "-2"),
    ):
        add("number", value, *bench, flag, value)
    add(
        "number",
        "-1",
        "sensitivity",
        *fresh,
        "--data",
        "{data}",
        "--out",
        "{out}",
        "--max-images",
        "-1",
    )
    add(
        "number",
        "ratios",
        "sensitivity",
        *fresh,
        "--data",
        "{data}",
        "--out",
        "{out}",
        "--ratios",
        "0.5,1.5",
    )
    add(
        "number",
        "ratios",
        "sensitivity",
        *fresh,
        "--data",
        "{data}",
        "--out",
        "{out}",
        "--ratios",
        "nan",
    )
    add("number", "min", "export", *fresh, "--out", "{tmp}/m.onnx", "--min-agreement", "1.5")
    add("number", "parity", "export", *fresh, "--out", "{tmp}/m.onnx", "--parity-images", "0")
    add("number", "opset", "export", *fresh, "--out", "{tmp}/m.onnx", "--opset", "5")
    add("number", "-1", "data", "synth", "--out", "{out}", "--n", "-1")
    add("number", "0", "data", "synth", "--out", "{out}", "--size", "0")
    add("number", "fraction", "data", "synth", "--out", "{out}", "--val-fraction", "1.5")
    add("number", "fraction", "data", "synth", "--out", "{out}", "--test-fraction", "nan")
    # -- sizes: malformed, too small for the model, too large for memory -----------------
    for size in ("0x0", "5x5", "axb", "100000x100000", "20000x20000", "-4x8", "64x", "1e3x4"):
        add("size", size.split("x")[0] or size, *bench, "--input-size", size)
    add("size", "2x2", "export", *fresh, "--out", "{tmp}/m.onnx", "--input-size", "2x2")
    add(
        "size",
        "50000x50000",
        "export",
        *fresh,
        "--out",
        "{tmp}/m.onnx",
        "--input-size",
        "50000x50000",
    )
    add("size", "5x5", *quantize, "--calib-size", "5x5")
    add("size", "nonsense", *quantize, "--calib-size", "nonsense")
    add("size", "input_size", *prune, "--ratio", "0.5", "--input-size", "3x3")
    add("size", "input_size", *factorize, "--input-size", "3x3")
    add("size", "0x0", "models", "--input-size", "0x0")
    # -- names: models, options, layers, methods, runtimes, devices, splits --------------
    add("name", "nosuch", "train", "--model", "nosuch", "--data", "{data}", "--out", "{out}")
    add("name", "nosuch", "bench", "--model", "nosuch", "--out", "{out}")
    add("name", "nosuch", "prune", "--model", "nosuch", "--ratio", "0.5", "--out", "{out}")
    add("name", "bogus", "bench", "--model", "unet", "--option", "bogus=1", "--out", "{out}")
    add(
        "name",
        "bogus",
        "prune",
        "--model",
        "unet",
        "--model-option",
        "bogus=1",
        "--ratio",
        "0.5",
        "--out",
        "{out}",
    )
    add(
        "name",
        "base_channels",
        "bench",
        "--model",
        "unet",
        "--option",
        "base_channels=4096000",
        "--out",
        "{out}",
    )
    add("name", "notkeyvalue", *bench, "--option", "notkeyvalue")
    add("name", "nosuch", *prune, "--ratio", "0.5", "--ignore-layer", "nosuch")
    add("name", "nomatch*", *factorize, "--layers", "nomatch*")
    add("name", "foo", *prune, "--ratio", "0.5", "--importance", "foo")
    add("name", "sideways", *prune, "--ratio", "0.5", "--scope", "sideways")
    add("name", "foo", *prune, "--ratio", "0.5", "--runtime", "foo", "--bench")
    add("name", "foo", *prune, "--ratio", "0.5", "--finetune-schedule", "foo")
    add("name", "foo", "factorize", *fresh, "--method", "foo", "--out", "{out}")
    add("name", "foo", *factorize, "--rank-rule", "foo")
    add("name", "foo", *quantize, "--method", "foo")
    add("name", "foo", *quantize, "--calibration", "foo")
    add("name", "maybe", *quantize, "--reduce-range", "maybe")
    add("name", "nosuch.layer", *quantize, "--keep-fp32", "nosuch.layer")
    add("name", "tpu", *bench, "--runtime", "tpu")
    add("name", "tpu", *bench, "--device", "tpu")
    add("name", "tpu", *train, "--device", "tpu")
    add("name", "tpu", *prune, "--ratio", "0.5", "--device", "tpu")
    add("name", "tpu", *factorize, "--device", "tpu")
    add(
        "name",
        "tpu",
        "sensitivity",
        *fresh,
        "--data",
        "{data}",
        "--out",
        "{out}",
        "--device",
        "tpu",
    )
    add("name", "cuda", *train, "--device", "cuda")
    add("name", "cuda", *prune, "--ratio", "0.5", "--device", "cuda")
    add("name", "cuda", *factorize, "--device", "cuda")
    add("name", "cuda", *bench, "--device", "cuda")
    add("name", "fp16", *bench, "--fp16")
    add(
        "name",
        "nosplit",
        "eval",
        "--checkpoint",
        "{ckpt}",
        "--data",
        "{data}",
        "--split",
        "nosplit",
    )
    add("name", "nosplit", *quantize, "--split", "nosplit")
    add(
        "name",
        "nosplit",
        "sensitivity",
        *fresh,
        "--data",
        "{data}",
        "--out",
        "{out}",
        "--split",
        "nosplit",
    )
    add("name", "foo", *train, "--schedule", "foo")
    add("name", "foo", "export", *fresh, "--out", "{tmp}/m.onnx", "--exporter", "foo")
    add("name", "torch", "bench", "--onnx", "{onnx}", "--runtime", "torch", "--out", "{out}")
    add(
        "name",
        "qat",
        "quantize",
        "--onnx",
        "{onnx}",
        "--data",
        "{data}",
        "--method",
        "qat",
        "--out",
        "{out}",
    )
    add("name", "--checkpoint", "quantize", "--data", "{data}", "--out", "{out}")
    add("name", "--model", "bench", "--out", "{out}")
    add("name", "--model", "bench", *fresh, "--checkpoint", "{ckpt}", "--out", "{out}")
    add("name", "--ratio", "prune", *fresh, "--out", "{out}")
    add("name", "--distill", *prune, "--ratio", "0.5", "--distill", "0.5")
    add("name", "format", "compare", "{result}", "--format", "xml")
    add("name", "--num-classes", *train, "--num-classes", "3")
    # -- files: missing, wrong kind, corrupt, hostile ------------------------------------
    for command in (
        ("eval", "--data", "{data}"),
        ("predict", "--input", "{data}/val/image", "--out", "{out}"),
        ("export", "--out", "{tmp}/m.onnx"),
        ("bench", "--out", "{out}"),
        ("prune", "--model", "unet", "--ratio", "0.5", "--out", "{out}", "--no-bench"),
        ("factorize", "--model", "unet", "--method", "tucker", "--out", "{out}"),
        ("quantize", "--data", "{data}", "--out", "{out}"),
    ):
        for bad, names in (
            ("{tmp}/absent.pt", "absent.pt"),
            ("{corrupt_pt}", "corrupt.pt"),
            ("{empty}", "empty.pt"),
            ("{dir_pt}", "dir.pt"),
            ("{pickle_pt}", "pickle.pt"),
        ):
            add("file", names, command[0], "--checkpoint", bad, *command[1:])
    add("file", "absent", "train", "--model", "unet", "--data", "{tmp}/absent", "--out", "{out}")
    add("file", "file.txt", "train", "--model", "unet", "--data", "{file_txt}", "--out", "{out}")
    add(
        "file", "empty_data", "train", "--model", "unet", "--data", "{empty_data}", "--out", "{out}"
    )
    add("file", "absent", "eval", "--checkpoint", "{ckpt}", "--data", "{tmp}/absent")
    add("file", "absent", *quantize[:3], "--data", "{tmp}/absent", "--out", "{out}")
    add("file", "absent", "sensitivity", *fresh, "--data", "{tmp}/absent", "--out", "{out}")
    add("file", "absent", *prune, "--target-macs", "0.5", "--sensitivity", "{tmp}/absent")
    add("file", "absent", *train, "--init", "{tmp}/absent.pt")
    add("file", "corrupt.pt", *train, "--init", "{corrupt_pt}")
    add(
        "file",
        "absent",
        "predict",
        "--checkpoint",
        "{ckpt}",
        "--input",
        "{tmp}/absent",
        "--out",
        "{out}",
    )
    add(
        "file",
        "x.png",
        "predict",
        "--checkpoint",
        "{ckpt}",
        "--input",
        "{dir_png}",
        "--out",
        "{out}",
    )
    add(
        "file",
        "corrupt.png",
        "predict",
        "--checkpoint",
        "{ckpt}",
        "--input",
        "{corrupt_png}",
        "--out",
        "{out}",
    )
    add("file", "absent.onnx", "bench", "--onnx", "{tmp}/absent.onnx", "--out", "{out}")
    add("file", "corrupt.onnx", "bench", "--onnx", "{corrupt_onnx}", "--out", "{out}")
    add(
        "file",
        "corrupt.onnx",
        "quantize",
        "--onnx",
        "{corrupt_onnx}",
        "--data",
        "{data}",
        "--out",
        "{out}",
    )
    add("file", "two_inputs.onnx", "bench", "--onnx", "{two_inputs_onnx}", "--out", "{out}")
    for name in ("grey", "rank3"):
        add("file", f"{name}.onnx", "bench", "--onnx", f"{{{name}_onnx}}", "--out", "{out}")
        add(
            "file",
            f"{name}.onnx",
            "quantize",
            "--onnx",
            f"{{{name}_onnx}}",
            "--data",
            "{data}",
            "--out",
            "{out}",
        )
    add("file", "absent.json", "compare", "{tmp}/absent.json")
    add("file", "corrupt.json", "compare", "{corrupt_json}")
    add("file", "nan.json", "compare", "{nan_json}")
    add("file", "nested.json", "compare", "{nested_json}")
    add("file", "miou", "compare", "{miou_json}")
    add("file", "absent.json", "plot", "pareto", "{tmp}/absent.json", "--out", "{tmp}/p.png")
    add("file", "miou", "plot", "pareto", "{miou_json}", "--out", "{tmp}/p.png")
    add("file", "absent.yaml", "run", "{tmp}/absent.yaml", "--out", "{out}")
    add("file", "python", "run", "{python_yaml}", "--out", "{out}")
    add("file", "bomb.yaml", "run", "{bomb_yaml}", "--out", "{out}")
    add("file", "typo", "run", "{typo_yaml}", "--out", "{out}")
    add("file", "broken.yaml", "run", "{broken_yaml}", "--out", "{out}")
    add("file", "list.yaml", "run", "{list_yaml}", "--out", "{out}")
    add("file", "nosuch", "run", "{tiny_recipe}", "--only", "nosuch", "--out", "{out}")
    add("file", "absent", "data", "check", "{tmp}/absent")
    add("file", "file.txt", "data", "check", "{file_txt}")
    # -- OS faults: output where a folder or file cannot be written ----------------------
    add("os", "file.txt", "data", "synth", "--out", "{file_txt}/sub", "--n", "4", "--size", "16")
    add("os", "outdir", "compare", "{result}", "--out", "{outdir}")
    add("os", "outdir", "plot", "pareto", "{result}", "--out", "{outdir}")
    add("os", "readonly", "data", "synth", "--out", "{readonly}/synth", "--n", "4", "--size", "16")
    add("os", "readonly", "compare", "{result}", "--out", "{readonly}/table.md")
    add("os", "readonly", "export", *fresh, "--out", "{readonly}/m.onnx")
    return [case for case in cases if case is not None]


CASES = _cases()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> Iterator[dict[str, str]]:
    """The hostile files every case refers to, written once."""
    import torch
    import yaml

    from compress.core.checkpoint import save_checkpoint
    from compress.core.measurements import LatencyStats, Metrics
    from compress.core.results import RunResult, write_result
    from compress.core.specs import ModelSpec
    from compress.deploy.export import export_onnx

    root = tmp_path_factory.mktemp("hostile")
    spec = ModelSpec(name="unet", num_classes=8, options={"base_channels": 4})
    torch.manual_seed(0)
    model = spec.build().eval()
    ckpt = save_checkpoint(root / "tiny.pt", model, spec)
    onnx = export_onnx(model, root / "tiny.onnx", input_size=(32, 32))
    (root / "corrupt.pt").write_bytes(os.urandom(256))
    (root / "empty.pt").write_bytes(b"")
    (root / "dir.pt").mkdir()
    (root / "x.png").mkdir()
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    (root / "corrupt.onnx").write_bytes(os.urandom(512))
    (root / "file.txt").write_text("not a folder\n")
    (root / "empty_data").mkdir()

    class Hostile:
        def __reduce__(self):  # a pickle that would run code if loaded unsafely
            return (os.system, ("touch " + str(root / "PWNED"),))

    torch.save({"state_dict": {}, "model": Hostile()}, root / "pickle.pt")
    two = torch.nn.Module()
    two.forward = lambda a, b: a + b  # type: ignore[method-assign]
    torch.onnx.export(
        two,
        (torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)),
        str(root / "two_inputs.onnx"),
        dynamo=False,
    )
    metrics = Metrics(miou=0.5, class_acc=0.5, pixel_acc=0.5, per_class_iou=[0.5])
    latency = LatencyStats(p50=1.0, p90=1.0, min=1.0, runs=1, warmup=0, input_size=(8, 8))

    class Sum(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.sum(1, keepdim=True)

    for name, shape in (("grey", (1, 1, 8, 8)), ("rank3", (1, 3, 8))):
        torch.onnx.export(Sum(), (torch.zeros(shape),), str(root / f"{name}.onnx"), dynamo=False)
    result = RunResult(
        name="base", kind="train", model="unet", metrics=metrics, latency_ms={"ort-cpu": latency}
    )
    write_result(root / "base", result)
    good = json.loads((root / "base" / "result.json").read_text())
    (root / "corrupt.json").write_text("{not json")
    (root / "nan.json").write_text(json.dumps({**good, "params": float("nan")}))
    (root / "nested.json").write_text("[" * 100_000 + "]" * 100_000)
    bad_miou = {**good, "metrics": {**good["metrics"], "miou": 5.0}}
    (root / "percent").mkdir()
    (root / "percent" / "result.json").write_text(json.dumps(bad_miou))
    (root / "outdir").mkdir()
    readonly = root / "readonly"
    readonly.mkdir()
    mounted = _read_only(readonly)
    (root / "python.yaml").write_text("name: !!python/object/apply:os.system ['true']\n")
    (root / "bomb.yaml").write_text(
        'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
        + "".join(
            f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        )
    )
    (root / "typo.yaml").write_text(yaml.safe_dump({"name": "x", "typo": 1}))
    (root / "broken.yaml").write_text("name: [unclosed\n")
    (root / "list.yaml").write_text("- 1\n- 2\n")
    files = {
        "tmp": str(root),
        "data": str(tiny_data),
        "ckpt": str(ckpt),
        "onnx": str(onnx),
        "corrupt_pt": str(root / "corrupt.pt"),
        "empty": str(root / "empty.pt"),
        "dir_pt": str(root / "dir.pt"),
        "pickle_pt": str(root / "pickle.pt"),
        "dir_png": str(root / "x.png"),
        "corrupt_png": str(root / "corrupt.png"),
        "corrupt_onnx": str(root / "corrupt.onnx"),
        "two_inputs_onnx": str(root / "two_inputs.onnx"),
        "grey_onnx": str(root / "grey.onnx"),
        "rank3_onnx": str(root / "rank3.onnx"),
        "file_txt": str(root / "file.txt"),
        "empty_data": str(root / "empty_data"),
        "result": str(root / "base" / "result.json"),
        "corrupt_json": str(root / "corrupt.json"),
        "nan_json": str(root / "nan.json"),
        "nested_json": str(root / "nested.json"),
        "miou_json": str(root / "percent"),
        "outdir": str(root / "outdir"),
        "readonly": str(readonly),
        "python_yaml": str(root / "python.yaml"),
        "bomb_yaml": str(root / "bomb.yaml"),
        "typo_yaml": str(root / "typo.yaml"),
        "broken_yaml": str(root / "broken.yaml"),
        "list_yaml": str(root / "list.yaml"),
        "tiny_recipe": str(Path(__file__).parents[2] / "recipes" / "quickstart.yaml"),
    }
    yield files
    if mounted:
        subprocess.run(["umount", str(readonly)], check=False)


def _read_only(folder: Path) -> bool:
    """Make ``folder`` unwritable: a read-only tmpfs where mounting is allowed (root in a
    container ignores permission bits), else mode 555. True when a mount was made."""
    try:
        done = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )
    except OSError:
        done = False
    if not done:
        folder.chmod(0o555)
    return done


def _writable(folder: str) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def test_the_catalogue_is_large_and_covers_every_command() -> None:
    assert len(CASES) >= 120
    commands = {case.argv[0] for case in CASES}
    assert commands >= {
        "train",
        "eval",
        "predict",
        "export",
        "bench",
        "prune",
        "factorize",
        "quantize",
        "sensitivity",
        "compare",
        "run",
        "data",
        "plot",
        "models",
    }


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(
    case: Case,
    files: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if "{readonly}" in " ".join(case.argv) and _writable(files["readonly"]):
        pytest.skip("no read-only folder can be made here (root without mount rights)")
    out = tmp_path / "out"
    argv, names = case.format({**files, "out": str(out)})
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in Path(files["tmp"]).iterdir() if p.name != "readonly")
    code = main(argv)
    captured = capsys.readouterr()
    lines = [line for line in (captured.out + captured.err).splitlines() if line.strip()]
    assert code == 2, (code, lines)
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    assert names.lower() in lines[0].lower(), lines[0]
    assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))
    assert not (tmp_path / "runs").exists()
    assert sorted(p.name for p in Path(files["tmp"]).iterdir() if p.name != "readonly") == before
    assert not (Path(files["tmp"]) / "PWNED").exists()
