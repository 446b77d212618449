"""Test data: generation (cached between runs) and verification helpers."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

MiB = 1024 * 1024
GiB = 1024 * MiB
CHUNK = 4 * MiB


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in constant memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def size_label(size: int) -> str:
    """``67108864`` → ``64MiB``; ``1073741824`` → ``1GiB``."""
    if size >= GiB and size % GiB == 0:
        return f"{size // GiB}GiB"
    if size >= MiB and size % MiB == 0:
        return f"{size // MiB}MiB"
    return f"{size}B"


class DataFile:
    """A random file of a given size, generated once into the cache dir."""

    def __init__(self, cache: Path, size: int) -> None:
        self.size = size
        self.path = cache / f"urandom_{size_label(size)}.bin"
        self._sum_path = self.path.with_suffix(".sha256")
        if not (
            self.path.exists()
            and self.path.stat().st_size == size
            and self._sum_path.exists()
        ):
            self._generate()
        self.sha256 = self._sum_path.read_text().strip()

    def _generate(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            left = self.size
            while left:
                block = os.urandom(min(CHUNK, left))
                digest.update(block)
                fh.write(block)
                left -= len(block)
        tmp.replace(self.path)
        self._sum_path.write_text(digest.hexdigest() + "\n")

    def place(self, directory: Path, name: str) -> Path:
        """Hard-link (or copy) the cached file into ``directory`` as ``name``."""
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / name
        target.unlink(missing_ok=True)
        try:
            os.link(self.path, target)
        except OSError:
            shutil.copyfile(self.path, target)
        return target

    def verify(self, path: Path) -> str | None:
        """Return a failure reason, or ``None`` if ``path`` is this file."""
        if not path.is_file():
            return f"{path} missing"
        size = path.stat().st_size
        if size != self.size:
            return f"{path} has {size} bytes, expected {self.size}"
        if sha256_file(path) != self.sha256:
            return f"{path} sha256 differs from the source"
        return None


class ManyFiles:
    """``count`` random files of ``size`` bytes each, with known digests."""

    def __init__(self, cache: Path, count: int, size: int) -> None:
        self.count = count
        self.size = size
        self.dir = cache / f"many_{count}x{size}"
        self.names = [f"small_{i:05d}.dat" for i in range(count)]
        done = self.dir / ".complete"
        if not done.exists():
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir.mkdir(parents=True)
            for name in self.names:
                (self.dir / name).write_bytes(os.urandom(size))
            done.touch()
        self.sums = {
            n: hashlib.sha256((self.dir / n).read_bytes()).hexdigest()
            for n in self.names
        }

    @property
    def total_bytes(self) -> int:
        """Bytes moved by one transfer of all files."""
        return self.count * self.size

    def place(self, directory: Path) -> None:
        """Populate ``directory`` with exactly these files (hard links)."""
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        for name in self.names:
            try:
                os.link(self.dir / name, directory / name)
            except OSError:
                shutil.copyfile(self.dir / name, directory / name)

    def verify(self, directory: Path) -> str | None:
        """Return a failure reason, or ``None`` if ``directory`` holds them all."""
        if not directory.is_dir():
            return f"{directory} missing"
        present = {p.name for p in directory.iterdir() if not p.name.startswith(".")}
        missing = set(self.names) - present
        if missing:
            return f"{len(missing)} of {self.count} files missing in {directory}"
        extra = present - set(self.names)
        if extra:
            return f"unexpected files in {directory}: {sorted(extra)[:3]}"
        for name in self.names:
            data = (directory / name).read_bytes()
            if len(data) != self.size:
                return f"{name}: {len(data)} bytes, expected {self.size}"
            if hashlib.sha256(data).hexdigest() != self.sums[name]:
                return f"{name}: sha256 differs from the source"
        return None


def reset_dir(directory: Path) -> Path:
    """Make ``directory`` exist and be empty."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory
