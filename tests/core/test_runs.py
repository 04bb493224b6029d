from __future__ import annotations

from pathlib import Path

import pytest

from compress.core.errors import CompressError
from compress.core.runs import prepare_run_dir, spec_digest


def test_digest_ignores_key_order() -> None:
    assert spec_digest({"a": 1, "b": [1, 2]}) == spec_digest({"b": [1, 2], "a": 1})
    assert spec_digest({"a": 1}) != spec_digest({"a": 2})


def test_same_spec_reuses_folder_and_sees_finished(tmp_path: Path) -> None:
    run = prepare_run_dir(tmp_path / "run", {"epochs": 3}, kind="train")
    assert not run.existing and not run.finished
    (run.path / "result.json").write_text("{}")
    again = prepare_run_dir(tmp_path / "run", {"epochs": 3}, kind="train")
    assert again.existing and again.finished


def test_different_spec_is_refused(tmp_path: Path) -> None:
    prepare_run_dir(tmp_path / "run", {"epochs": 3}, kind="train")
    with pytest.raises(CompressError, match="different train configuration"):
        prepare_run_dir(tmp_path / "run", {"epochs": 4}, kind="train")


def test_foreign_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CompressError, match="not empty"):
        prepare_run_dir(tmp_path, {"epochs": 3}, kind="train")
    with pytest.raises(CompressError, match="is a file"):
        prepare_run_dir(tmp_path / "notes.txt", {}, kind="train")


def test_a_spec_with_another_key_is_another_run(tmp_path: Path) -> None:
    """Equal content in any key order is the same run; a key more, even at its default
    (a field added later), is another run: folders are keyed by the whole spec."""
    prepare_run_dir(tmp_path / "run", {"epochs": 3, "lr": 0.1}, kind="train")
    (tmp_path / "run" / "result.json").write_text("{}")
    assert prepare_run_dir(tmp_path / "run", {"lr": 0.1, "epochs": 3}, kind="train").finished
    for other in ({"epochs": 3, "lr": 0.1, "schedule": "step"}, {"epochs": 4, "lr": 0.1}):
        with pytest.raises(CompressError, match="different train configuration"):
            prepare_run_dir(tmp_path / "run", other, kind="train")


def test_a_second_process_on_the_same_folder_is_refused_and_kill_9_frees_it(tmp_path) -> None:
    import signal
    import subprocess
    import sys

    from compress.core.errors import CompressError
    from compress.core.runs import prepare_run_dir, unlock_run_dirs

    folder = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from compress.core.runs import prepare_run_dir; "
            f"prepare_run_dir({str(folder)!r}, {{'a': 1}}, kind='t'); print('held', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(
            CompressError,
            match=f"run folder {folder} is in use by another command \\(pid {holder.pid}\\)",
        ):
            prepare_run_dir(folder, {"a": 1}, kind="t")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()  # after wait() the process is gone and so is its lock
    assert (folder / ".lock").exists()  # the file stays; the kernel's lock went with the process
    assert not prepare_run_dir(folder, {"a": 1}, kind="t").finished
    unlock_run_dirs()


def test_a_lone_lock_file_does_not_block_a_new_run(tmp_path) -> None:
    from compress.core.runs import prepare_run_dir, unlock_run_dirs

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".lock").write_text("12345")  # killed between locking and spec.yaml
    prepare_run_dir(tmp_path / "run", {"a": 1}, kind="t")
    assert (tmp_path / "run" / "spec.yaml").is_file()
    unlock_run_dirs()


def test_a_refused_folder_names_the_fields_that_differ(tmp_path) -> None:
    from compress.core.errors import CompressError
    from compress.core.runs import prepare_run_dir, unlock_run_dirs

    prepare_run_dir(tmp_path / "run", {"lr": 0.001, "model": {"name": "unet"}}, kind="train")
    unlock_run_dirs()
    with pytest.raises(
        CompressError,
        match=r"\(lr: 0\.001 there, 0\.01 here; model\.name: "
        r"'unet' there, 'vgg' here\)",
    ):
        prepare_run_dir(tmp_path / "run", {"lr": 0.01, "model": {"name": "vgg"}}, kind="train")


def test_releasing_a_claim_keeps_a_folder_the_user_made(tmp_path) -> None:
    from compress.core.runs import forget_claims, prepare_run_dir, release_unused_claims

    forget_claims()
    (tmp_path / "mine").mkdir()
    prepare_run_dir(tmp_path / "mine", {"a": 1}, kind="t")
    prepare_run_dir(tmp_path / "new" / "deep", {"a": 1}, kind="t")
    released = release_unused_claims()
    assert len(released) == 2
    assert (tmp_path / "mine").is_dir() and list((tmp_path / "mine").iterdir()) == []
    assert not (tmp_path / "new").exists()  # created for the claim: removed with it
