"""Every command README shows is run here, in README's order, on a tiny built-in dataset.

Each line runs as written; flags appended after it (argparse keeps the last value) only shrink
the work (dataset size, epochs, resolution, iterations) so the whole README runs in CI.
"""

import re
import shlex
from pathlib import Path

import cv2
import pytest

from mobilevision.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
SHRINK = {
    ("quickstart", "--no-serve"): ["--images", "30", "--val-images", "6", "--imgsz", "96", "--epochs", "1",
                                   "--width", "0.35", "--bench-iters", "1", "--runtimes", "eager"],
    ("data", "synth"): ["--images", "30", "--size", "96"],
    ("classify", "train"): ["--epochs", "1", "--imgsz", "64", "--width", "0.5", "--batch", "8", "--workers", "0"],
    ("detect", "train"): ["--epochs", "1", "--imgsz", "64", "--width", "0.5", "--batch", "8", "--workers", "0"],
    ("segment", "train"): ["--epochs", "1", "--imgsz", "64", "--width", "0.5", "--batch", "8", "--workers", "0"],
    ("multitask", "train"): ["--epochs", "1", "--imgsz", "64", "--width", "0.5", "--batch", "8", "--workers", "0"],
    ("classify", "val"): ["--workers", "0"],
    ("detect", "val"): ["--workers", "0"],
    ("segment", "val"): ["--workers", "0"],
    ("multitask", "val"): ["--workers", "0"],
    ("export", "--weights"): ["--calib-images", "4"],
    ("bench", "--compare"): ["--models", "mobilenet_v2", "--widths", "0.35", "--imgsz", "64", "--runtimes", "eager",
                             "--warmup", "1", "--iters", "1", "--batch", "2", "--batch-iters", "1", "--threads", "1",
                             "--rounds", "1"],
}
# Run by tests/tasks/classify/test_classify_cli.py::test_classify_torchrun_two_processes_match_single_process_val
# (two processes cost a minute; the command form is the same).
RUN_ELSEWHERE = ("torchrun",)


def readme_commands() -> list[list[str]]:
    """The shell commands of README's ```bash blocks, comments stripped, `make` targets left out."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] != "make":
                commands.append(words)
    return commands


def test_readme_shows_the_main_commands():
    shown = {tuple(words[:3]) for words in readme_commands()}
    for task in ("classify", "detect", "segment"):
        for mode in ("train", "val", "predict"):
            assert ("mobilevision", task, mode) in shown


@pytest.mark.slow
def test_every_readme_command_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for words in readme_commands():
        if words[0] in RUN_ELSEWHERE:
            continue
        assert words[0] == "mobilevision", words
        argv = words[1:] + SHRINK.get(tuple(words[1:3]), [])
        if argv[0] == "data" and argv[1] == "synth":
            assert main(argv) == 0
            _inputs_for_predict(tmp_path / "data" / "synth")
            continue
        assert main(argv) == 0, " ".join(words)
        capsys.readouterr()


def _inputs_for_predict(dataset: Path) -> None:
    """image.jpg, video.mp4 and folder/ that README's predict lines name, from the generated images."""
    images = sorted((dataset / "coco").rglob("*.jpg"))[:3]
    Path("folder").mkdir()
    for index, path in enumerate(images):
        (Path("folder") / f"{index}.jpg").write_bytes(path.read_bytes())
    Path("image.jpg").write_bytes(images[0].read_bytes())
    frame = cv2.imread(str(images[0]))
    writer = cv2.VideoWriter("video.mp4", cv2.VideoWriter_fourcc(*"mp4v"), 5, (frame.shape[1], frame.shape[0]))
    for path in images:
        writer.write(cv2.resize(cv2.imread(str(path)), (frame.shape[1], frame.shape[0])))
    writer.release()
