"""TensorFlow checkpoints read without TensorFlow: the tensor bundle format of the model zoos'
releases (`<prefix>.index` and `<prefix>.data-NNNNN-of-NNNNN`), from their archives as downloaded.

The index is a LevelDB table (tensorflow/core/lib/io/format.cc, table_builder.cc) mapping each
variable's name to a BundleEntryProto (tensorflow/core/protobuf/tensor_bundle.proto): its dtype,
shape, data shard, offset and size. The data files are the tensors' raw little-endian bytes. Both
are read here with nothing but the standard library and numpy; nothing in the files is executed.
"""

from __future__ import annotations

import struct
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from mobilevision.errors import MobileVisionError

TABLE_MAGIC = 0xDB4775248B80FB57  # LevelDB's, which TF's table format keeps (format.h)
FOOTER_BYTES = 48  # two varint block handles padded to 40 bytes, then the 8-byte magic
BLOCK_TRAILER_BYTES = 5  # a compression byte and a CRC after every block
# DataType enum values (tensorflow/core/framework/types.proto) of the numeric tensors a model holds.
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64,
          10: np.bool_, 19: np.float16}
HEADER_KEY = b""  # the index's BundleHeaderProto (number of shards, endianness)


class TFCheckpointError(MobileVisionError):
    """A file that is not a readable TF checkpoint; the message names it."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """The base-128 varint at `pos` -> (value, the position after it)."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _message_fields(message: bytes) -> dict[int, list]:
    """A protobuf message's fields by number (wire format only: varints as ints, length-delimited
    fields as bytes, fixed32/64 as ints): all the bundle's protos need."""
    fields: dict[int, list] = {}
    pos = 0
    while pos < len(message):
        tag, pos = _varint(message, pos)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            value, pos = _varint(message, pos)
        elif wire_type == 2:
            length, pos = _varint(message, pos)
            value, pos = message[pos:pos + length], pos + length
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            value, pos = int.from_bytes(message[pos:pos + size], "little"), pos + size
        else:
            raise ValueError(f"protobuf wire type {wire_type}")
        fields.setdefault(number, []).append(value)
    return fields


def _handle(data: bytes, pos: int = 0) -> tuple[int, int, int]:
    """The block handle at `pos` -> (offset, size, the position after it)."""
    offset, pos = _varint(data, pos)
    size, pos = _varint(data, pos)
    return offset, size, pos


def _block(table: bytes, offset: int, size: int) -> bytes:
    """The uncompressed block at `offset`."""
    if offset + size + BLOCK_TRAILER_BYTES > len(table):
        raise ValueError("a block runs past the end of the file")
    if table[offset + size] != 0:  # TF's BundleWriter writes its index uncompressed
        raise ValueError(f"block compression type {table[offset + size]}")
    return table[offset:offset + size]


def _block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The (key, value) entries of a table block; keys share prefixes with the previous key."""
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 * (restarts + 1)
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_length, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + value_length]
        pos += value_length


def _table_entries(table: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Every (key, value) of a LevelDB table: the index block's handles lead to the data blocks."""
    if len(table) < FOOTER_BYTES or struct.unpack_from("<Q", table, len(table) - 8)[0] != TABLE_MAGIC:
        raise ValueError("no table footer (not a TF checkpoint index, or cut short)")
    footer = table[-FOOTER_BYTES:]
    _, _, pos = _handle(footer)  # the metaindex block: empty in a checkpoint
    index_offset, index_size, _ = _handle(footer, pos)
    for _, handle in _block_entries(_block(table, index_offset, index_size)):
        offset, size, _ = _handle(handle)
        yield from _block_entries(_block(table, offset, size))


def _entry(value: bytes) -> dict:
    """A BundleEntryProto: dtype, shape, shard_id, offset, size."""
    fields = _message_fields(value)
    shape_fields = _message_fields(fields[2][0]) if 2 in fields else {}
    shape = tuple(_message_fields(dim).get(1, [0])[0] for dim in shape_fields.get(2, []))
    if 7 in fields:
        raise ValueError("partitioned (sliced) variables")
    return {"dtype": fields.get(1, [0])[0], "shape": shape, "shard": fields.get(3, [0])[0],
            "offset": fields.get(4, [0])[0], "size": fields.get(5, [0])[0]}


def parse_checkpoint(index: bytes, shards: Mapping[int, bytes], *, source: str) -> dict[str, np.ndarray]:
    """The numeric tensors of a checkpoint, by variable name: `index` the .index file's bytes,
    `shards` each data file's bytes by shard number. Non-numeric entries (strings) are skipped.
    A file that is not a checkpoint, or is cut short, is a one-line error naming `source`."""
    tensors = {}
    try:
        entries = [(key, value) for key, value in _table_entries(index) if key != HEADER_KEY]
        for key, value in entries:
            entry = _entry(value)
            dtype = DTYPES.get(entry["dtype"])
            if dtype is None:
                continue
            shard = shards.get(entry["shard"])
            if shard is None:
                raise ValueError(f"no data file for shard {entry['shard']}")
            if entry["offset"] + entry["size"] > len(shard):
                raise ValueError(f"the data file ends before {key.decode()!r} (cut short)")
            array = np.frombuffer(shard, dtype=np.dtype(dtype).newbyteorder("<"), offset=entry["offset"],
                                  count=entry["size"] // np.dtype(dtype).itemsize)
            tensors[key.decode()] = array.reshape(entry["shape"]).copy()
    except (ValueError, IndexError, struct.error) as error:
        raise TFCheckpointError(f"{source}: not a readable TensorFlow checkpoint ({error}); download it again") from None
    return tensors


def _shard_number(name: str) -> int:
    """`model.ckpt.data-00000-of-00001` -> 0."""
    return int(name.rsplit(".data-", 1)[1].split("-of-")[0])


def read_tf_checkpoint(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a TF checkpoint: its `.index` file (data files beside it), or a release
    archive (.tar.gz / .tgz) holding one, read in memory (nothing is extracted to disk)."""
    path = Path(path)
    if path.suffix == ".index":
        shards = {_shard_number(file.name): file.read_bytes()
                  for file in path.parent.glob(f"{path.stem}.data-*-of-*")}
        return parse_checkpoint(path.read_bytes(), shards, source=str(path))
    try:
        with tarfile.open(path, "r:*") as archive:
            members = {member.name: member for member in archive.getmembers() if member.isfile()}
            indexes = sorted(name for name in members if name.endswith(".index"))
            if len(indexes) != 1:
                raise TFCheckpointError(f"{path}: {len(indexes)} checkpoint .index files in the archive, not 1; "
                                        "is it a model zoo release?")
            prefix = indexes[0].removesuffix(".index")
            shards = {_shard_number(name): archive.extractfile(members[name]).read()
                      for name in members if name.startswith(f"{prefix}.data-")}
            index = archive.extractfile(members[indexes[0]]).read()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise TFCheckpointError(f"{path}: not a readable release archive ({error}); it may be cut short: "
                                "delete it and download it again") from None
    return parse_checkpoint(index, shards, source=f"{path}:{indexes[0]}")
