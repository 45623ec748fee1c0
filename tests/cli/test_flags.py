"""Issue 35, item 8: every command checks its flags while parsing (cli/flag_types.py), before any
file is read: a value out of range is one line naming the flag, the value and the valid range,
exit code 2."""

from __future__ import annotations

import argparse

import pytest

from mobilevision.cli import build_parser, main
from mobilevision.cli.flag_types import positive_int

WEIGHTS = ["--weights", "never-read.pt"]  # parsing fails first, so no file is needed

CASES = {
    "val --imgsz -5": (["classify", "val", *WEIGHTS, "--data", "d", "--imgsz", "-5"], "--imgsz", "-5", "1 or more"),
    "val --batch 0": (["detect", "val", *WEIGHTS, "--data", "d", "--batch", "0"], "--batch", "0", "1 or more"),
    "val --workers -1": (["segment", "val", *WEIGHTS, "--data", "d", "--workers", "-1"], "--workers", "-1",
                         "0 or more"),
    "predict --topk -3": (["classify", "predict", "x.jpg", *WEIGHTS, "--topk", "-3"], "--topk", "-3", "1 or more"),
    "predict --conf nan": (["detect", "predict", "x.jpg", *WEIGHTS, "--conf", "nan"], "--conf", "nan", "from 0 to 1"),
    "export --imgsz -5": (["export", *WEIGHTS, "--imgsz", "-5"], "--imgsz", "-5", "1 or more"),
    "export --out": (["export", *WEIGHTS, "--out", "/no/such/dir/x.onnx"], "--out", "/no/such/dir/x.onnx",
                     "folder /no/such/dir does not exist; create it or write elsewhere"),
    "export --calib-images -1": (["export", *WEIGHTS, "--int8", "--calib", "d", "--calib-images", "-1"],
                                 "--calib-images", "-1", "1 or more"),
    "demo live --imgsz -5": (["demo", "live", "--source", "0", *WEIGHTS, "--imgsz", "-5"], "--imgsz", "-5",
                             "1 or more"),
    "bench --widths inf": (["bench", "--widths", "inf"], "--widths", "inf", "a number above 0"),
    "quickstart --port": (["quickstart", "--port", "99999"], "--port", "99999", "from 1 to 65535"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_flag_out_of_range_is_one_line_and_exit_code_2(case, capsys):
    argv, flag, value, valid = CASES[case]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    error = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "\n" not in error, error
    assert f"error: argument {flag}: {value}" in error and valid in error


def test_values_in_range_parse_to_numbers():
    args = build_parser().parse_args(["classify", "val", *WEIGHTS, "--data", "d", "--imgsz", "96", "--batch", "1",
                                      "--workers", "0"])
    assert (args.imgsz, args.batch, args.workers) == (96, 1, 0)


@pytest.mark.parametrize("text", ["0", "-1", "1.5", "ten", "nan"])
def test_positive_int_refuses_what_is_no_count(text):
    with pytest.raises(argparse.ArgumentTypeError, match=f"{text} is not a whole number of 1 or more"):
        positive_int(text)
