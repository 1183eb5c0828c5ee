"""Optional download of published data files (data.download=true), each verified against its
checksum ("md5:HEX" or "sha256:HEX"). A file that does not match is removed and the run stops
with an error naming the URL and both digests; nothing unverified is ever left in data.root.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

from dlrun.base.errors import ConfigError

log = logging.getLogger("dlrun")
CHUNK = 1 << 20


def _error(problem: str):
    return ConfigError([problem])


def _hasher(checksum: str):
    algorithm, _, digest = checksum.partition(":")
    if algorithm not in ("md5", "sha256") or not digest:
        raise _error(f"checksum {checksum!r}: expected 'md5:HEX' or 'sha256:HEX'")
    return hashlib.new(algorithm), digest.lower()


def file_digest(path: Path, checksum: str) -> str:
    """The digest of a file in the algorithm `checksum` names."""
    hasher, _ = _hasher(checksum)
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            hasher.update(block)
    return hasher.hexdigest()


def _stream(url: str, part: Path, hasher, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, part.open("wb") as out:
            for block in iter(lambda: response.read(CHUNK), b""):
                hasher.update(block)
                out.write(block)
    except (urllib.error.URLError, OSError) as error:
        part.unlink(missing_ok=True)
        reason = f"HTTP {error.code} {error.reason}" if isinstance(error, urllib.error.HTTPError) else \
            getattr(error, "reason", error)
        raise _error(f"could not download {url}: {reason} "
                     "(data.mirror sets where from; or put the files in data.root yourself)") from None


def fetch(root: Path, checksums: dict, mirror: str, timeout: float = 60.0) -> None:
    """Download every file of `checksums` (name -> checksum) missing from root from mirror + name.

    A file already in root is kept when its digest matches, else fetched again. Downloads go
    to a per-process temporary name and are renamed into place only once verified, so
    parallel ranks never see a partial file.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for name, checksum in checksums.items():
        target = root / name
        _, expected = _hasher(checksum)
        if target.is_file():
            if file_digest(target, checksum) == expected:
                continue
            log.warning("%s does not match its checksum %s: downloading it again", target, checksum)
        url = mirror.rstrip("/") + "/" + name
        part = target.with_name(f"{name}.part-{os.getpid()}")
        hasher, _ = _hasher(checksum)
        log.info("downloading %s -> %s", url, target)
        _stream(url, part, hasher, timeout)
        if hasher.hexdigest() != expected:
            part.unlink()
            raise _error(f"checksum mismatch for {url}: expected {checksum}, got "
                         f"{checksum.partition(':')[0]}:{hasher.hexdigest()}; the download was removed "
                         "(a wrong data.mirror, or data.checksums for your own mirror?)")
        os.replace(part, target)
