"""`mobilevision data synth|check|bench` through the real command line."""

from __future__ import annotations

import argparse

import pytest

from mobilevision.cli import build_parser, main


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def test_every_data_command_and_option_has_help(capsys):
    data = _subparser(build_parser(), "data")
    for command in ("synth", "check", "bench"):
        assert all(action.help for action in _subparser(data, command)._actions), command
        with pytest.raises(SystemExit) as exit_info:
            main(["data", command, "--help"])
        assert exit_info.value.code == 0 and "options" in capsys.readouterr().out


def test_synth_then_check_clean_dataset(tmp_path, capsys):
    assert main(["data", "synth", "--out", str(tmp_path / "d"), "--images", "10", "--size", "96", "--seed", "3"]) == 0
    assert "images/s" in capsys.readouterr().out
    assert main(["data", "check", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "detect/train (coco): 8 samples" in out and "segment/val (voc): 2 samples" in out
    assert "image size: width 96..96" in out and "no problems found" in out


def test_synth_val_images_sets_the_val_split(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["data", "synth", "--out", str(out), "--images", "6", "--val-images", "4", "--size", "64"]) == 0
    assert main(["data", "check", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "detect/train (coco): 2 samples" in printed and "segment/val (voc): 4 samples" in printed
    assert main(["data", "synth", "--out", str(tmp_path / "e"), "--images", "6", "--val-images", "7"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--val-images 7" in error


def test_check_lists_problems_and_exits_2(synth_copy, capsys):
    broken = min((synth_copy / "voc/JPEGImages").glob("*.jpg"))
    broken.write_bytes(b"junk")
    assert main(["data", "check", str(synth_copy / "voc")]) == 2
    out = capsys.readouterr().out
    assert f"problem: {broken}: not an image (starts with b'junk')" in out and "problem(s) found" in out


def test_user_errors_are_one_line_and_exit_2(tmp_path, capsys):
    assert main(["data", "check", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing" in err


def test_bench_prints_images_per_second(capsys):
    from mobilevision.bench import data_loaders as bench

    results = bench.benchmark_loaders(size=64, images=10, batch=4, workers=(0,))
    assert [task for task, _, _ in results] == ["classify", "detect", "segment"]
    assert all(speed > 0 for _, _, speed in results)
    assert "images/s" in capsys.readouterr().out


def test_synth_refuses_a_foreign_folder_and_replaces_an_old_dataset(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/notes.txt").write_text("keep me")
    assert main(["data", "synth", "--out", str(tmp_path / "mine"), "--images", "4", "--size", "64"]) == 2
    assert "not empty" in capsys.readouterr().err and (tmp_path / "mine/notes.txt").exists()
    out = tmp_path / "d"
    assert main(["data", "synth", "--out", str(out), "--images", "8", "--size", "64"]) == 0
    assert main(["data", "synth", "--out", str(out), "--images", "4", "--size", "64"]) == 0
    assert len(list((out / "folders").rglob("*.jpg"))) == 4
