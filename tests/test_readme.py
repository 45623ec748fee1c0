"""Every command README.md and docs/*.md show is run here, page by page, in each page's order, on a
tiny built-in dataset.

Each ```bash line runs as written; flags appended after it (argparse keeps the last value) only
shrink the work (dataset size, epochs, time budget, resolution, iterations, models timed) so that
every page runs in CI. Commands that need real COCO / ImageNet data, a GPU, a camera or a server
sit in ```text blocks, which are not run. Each page runs in a fresh folder: a page that needs data
shows the `mobilevision data synth` line that makes it, and the image.jpg, video.mp4 and folder/
that predict lines name are made from the generated images.
"""

import re
import shlex
from pathlib import Path

import cv2
import pytest

from mobilevision.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_BYTES = 16_000

_TRAIN = ["--epochs", "1", "--time", "0", "--imgsz", "64", "--width", "0.5", "--batch", "8", "--workers", "0"]
_BENCH = ["--warmup", "1", "--iters", "1", "--batch", "2", "--batch-iters", "1", "--threads", "1", "--rounds", "1"]
# Keyed by the command's first two words after `mobilevision`, else by its first word.
SHRINK = {
    ("quickstart", "--no-serve"): ["--images", "30", "--val-images", "6", "--imgsz", "96", "--epochs", "1",
                                   "--width", "0.35", "--bench-iters", "1", "--runtimes", "eager"],
    ("data", "synth"): ["--images", "30", "--size", "96"],
    ("data", "bench"): ["--images", "16", "--imgsz", "64"],
    ("info",): ["--model", "mobilenet_v2"],  # counting every model at every width takes a minute
    ("info", "--model"): [],
    ("classify", "train"): _TRAIN,
    ("detect", "train"): _TRAIN,
    ("segment", "train"): _TRAIN,
    ("multitask", "train"): _TRAIN,
    ("classify", "val"): ["--workers", "0"],
    ("detect", "val"): ["--workers", "0"],
    ("segment", "val"): ["--workers", "0"],
    ("multitask", "val"): ["--workers", "0"],
    ("export", "--weights"): ["--calib-images", "4"],
    ("bench",): ["--models", "mobilenet_v2", "--widths", "0.35", "--imgsz", "64", "--runtimes", "eager", *_BENCH],
    ("bench", "--weights"): ["--runtimes", "eager", "--data-images", "4", "--calib-images", "4", *_BENCH],
    ("bench", "--paper"): [],
}
# Run by tests/tasks/classify/test_classify_cli.py::test_classify_torchrun_two_processes_match_single_process_val
# (two processes cost a minute; the command form is the same).
RUN_ELSEWHERE = ("torchrun",)


def page_commands(page: Path) -> list[list[str]]:
    """The shell commands of a page's ```bash blocks, comments stripped, `make` targets left out."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] != "make":
                commands.append(words)
    return commands


def readme_commands() -> list[list[str]]:
    return page_commands(README)


def shrink(argv: list[str]) -> list[str]:
    """The flags appended to `mobilevision ARGV` (without the program name)."""
    for key in (tuple(argv[:2]), tuple(argv[:1])):
        if key in SHRINK:
            return SHRINK[key]
    return []


def test_readme_shows_the_main_commands():
    shown = {tuple(words[:3]) for words in readme_commands()}
    for task in ("classify", "detect", "segment"):
        for mode in ("train", "val", "predict"):
            assert ("mobilevision", task, mode) in shown


def test_readme_is_at_most_16000_bytes():
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; move detail to docs/ (limit {README_MAX_BYTES})"


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_links_between_pages_resolve(page):
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.is_file(), f"{page.name} links to {target}, which does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.M)
            assert anchor in {_slug(h) for h in headings}, f"{page.name} links to {target}: no such heading"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_command_runs(page, tmp_path, monkeypatch, capsys):
    commands = [words for words in page_commands(page) if words[0] not in RUN_ELSEWHERE]
    if not commands:
        pytest.skip(f"{page.name} shows no command")
    monkeypatch.chdir(tmp_path)
    for words in commands:
        assert words[0] == "mobilevision", words
        argv = words[1:] + shrink(words[1:])
        assert main(argv) == 0, " ".join(words)
        capsys.readouterr()
        if argv[:2] == ["data", "synth"]:
            _inputs_for_predict(Path(argv[argv.index("--out") + 1]))


def _inputs_for_predict(dataset: Path) -> None:
    """image.jpg, video.mp4 and folder/ that the pages' predict lines name, from the generated images."""
    if Path("image.jpg").exists():
        return
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
