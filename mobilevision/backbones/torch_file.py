"""Opening a file `torch.save` wrote (.pt / .pth), the one way every weights file is read.

It lives in the lowest layer that reads weights (pretrained.py's state dicts; the checkpoint
readers above build on it). Only tensors and plain Python values are loaded (`weights_only=True`),
so a file can never run code; every way a file can be bad is one MobileVisionError that names the
file, what is wrong with it and what to do, never torch's advice to load it unsafely.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from mobilevision.errors import MobileVisionError

# torch's message for a pickled object outside its allow-list names it: "GLOBAL __main__.Net was not ...".
_FORBIDDEN_GLOBAL = re.compile(r"GLOBAL (\S+) was not an allowed global")
_CUT_SHORT = "cut short (an interrupted save, copy or download)"


def read_torch_file(path: str | Path, *, map_location: str | torch.device = "cpu") -> Any:
    """What `torch.save` wrote to `path`: tensors, dicts, lists and numbers."""
    path = Path(path)
    if path.is_dir():
        raise MobileVisionError(f"{path} is a folder, not a weights file; pass a file in it (a run keeps "
                                "weights/best.pt and weights/last.pt)")
    if not path.is_file():
        raise MobileVisionError(f"{path}: no such file; check the path")
    if path.stat().st_size == 0:
        raise MobileVisionError(f"{path} is empty (0 bytes): {_CUT_SHORT}; copy it again or use another checkpoint "
                                "(a run keeps weights/best.pt and weights/last.pt)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        found = _FORBIDDEN_GLOBAL.search(str(error))
        if found is None:  # pickle opcodes torch does not know: bytes that are no torch.save output
            raise MobileVisionError(f"{path} is not a PyTorch file; pass a .pt / .pth checkpoint, a .safetensors "
                                    "file or an .onnx export") from None
        raise MobileVisionError(f"{path} holds a pickled Python object ({found.group(1)}) besides tensors, which "
                                "mobilevision never loads (unpickling can run code); where the model was made, save "
                                "its tensors alone (torch.save(model.state_dict(), path)) and pass that file") from None
    except (RuntimeError, OSError, EOFError, ValueError) as error:
        # The zip reader's "failed finding central directory", a read past the end, a bad offset.
        reason = str(error).strip().split(". ")[0].splitlines()[0] if str(error).strip() else type(error).__name__
        raise MobileVisionError(f"{path} cannot be read as PyTorch weights ({reason}): the file is {_CUT_SHORT} or "
                                "not a PyTorch file; copy it again or use another checkpoint") from None
