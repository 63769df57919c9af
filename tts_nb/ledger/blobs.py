"""Result files: content-addressed, written atomically, checked on every read.

``results/ab/<sha256>.<format>``: written to a temporary file and renamed into place
(`os.replace` is atomic), so a partial file never carries a final name; a file whose bytes do
not match its name reads as missing. Identical audio is stored once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from ..clip import Clip
from .schema import PRIVATE_DIR
from .snapshots import dumps


def put_result(results_dir: Path, result: Any) -> str | None:
    """Store a Clip (or a list of Clips) content-addressed; the JSON that finds it again."""
    clips = result if isinstance(result, (list, tuple)) else [result]
    if not clips or not all(isinstance(clip, Clip) for clip in clips):
        return None
    items = []
    for clip in clips:
        digest = put_bytes(results_dir, clip.data, clip.format)
        items.append(
            {
                "sha256": digest,
                "format": clip.format,
                "text": clip.text,
                "voice": clip.voice,
                "meta": clip.meta,
                "duration_s": clip.duration_s,
                "bytes": clip.size,
            }
        )
    return dumps({"list": isinstance(result, (list, tuple)), "clips": items})


def blob_path(results_dir: Path, digest: str, fmt: str) -> Path:
    return results_dir / digest[:2] / f"{digest}.{fmt}"


def put_bytes(results_dir: Path, data: bytes, fmt: str) -> str:
    digest = hashlib.sha256(data).hexdigest()
    path = blob_path(results_dir, digest, fmt)
    if path.is_file() and path.stat().st_size == len(data):
        return digest
    results_dir.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    path.parent.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return digest


def get_bytes(results_dir: Path, digest: str, fmt: str) -> bytes | None:
    try:
        data = blob_path(results_dir, digest, fmt).read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == digest else None
