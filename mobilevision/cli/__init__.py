"""The `mobilevision` command line, the top layer: it parses, then calls the layers below."""

from mobilevision.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
