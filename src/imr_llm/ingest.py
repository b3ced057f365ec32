"""Ingest: files and paths in, ``Letter`` objects (or a typed ``IngestError``) out.

PDFs are read with PDFium (``pypdfium2``): about ten times faster than pure-Python readers on
these letters, and it opens the corpus's empty-password AES encryption without complaint.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from imr_llm.schemas import ErrorKind, Letter
from imr_llm.text.spans import undouble_lines

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
SUPPORTED_SUFFIXES = (".pdf", ".txt")
MIN_TEXT_CHARS = 40
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class IngestError(Exception):
    """An input that cannot become a Letter; ``kind`` is what scripts branch on."""

    def __init__(self, kind: ErrorKind, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class InputFile:
    path: Path
    source: str
    resolved: str = ""  # the absolute path with symlinks resolved: what resume is keyed on

    @property
    def letter_id(self) -> str:
        return self.path.stem

    @property
    def key_path(self) -> str:
        # expand_paths always sets ``resolved``; an unresolvable path falls back to itself.
        return self.resolved or resolve_path(self.path) or str(self.path)


def resolve_path(path: Path | str) -> str | None:
    """The absolute path with every symlink resolved, or None when it cannot be resolved (a
    symlink loop, a link whose target's directory is unreadable)."""
    try:
        return str(Path(path).resolve(strict=False))
    except (RuntimeError, OSError):
        return None


def path_problem(path: Path | str) -> str | None:
    """Why ``path`` cannot be read as an input, in words that say what to do, or None."""
    p = Path(path)
    if resolve_path(p) is None:
        return f"{path}: symlink loop (the link points back to itself); fix the link or give the real file"
    if p.is_symlink() and not p.exists():
        return f"{path}: broken symlink (its target {os.readlink(p)} does not exist); fix the link or give the real file"
    return None


def expand_paths(
    paths: Iterable[str], problems: list[str] | None = None
) -> tuple[list[InputFile], list[str]]:
    """Expand files, directories (recursively: .pdf, .txt) and globs, in the order given.

    Returns the inputs and the arguments that matched nothing (for a usage error). When
    ``problems`` is given, a message for each argument that names an unreadable path (a symlink
    loop, a broken link) is appended to it; such arguments are also in the unmatched list.
    """
    found: list[InputFile] = []
    unmatched: list[str] = []
    seen: set[str] = set()

    def add(p: Path, source: str) -> bool:
        key = resolve_path(p)
        if key is None:
            return False
        if key not in seen:
            seen.add(key)
            found.append(InputFile(p, source, key))
        return True

    for arg in paths:
        p = Path(arg)
        problem = path_problem(p)
        if problem is not None:
            unmatched.append(arg)
            if problems is not None:
                problems.append(problem)
            continue
        if p.is_dir():
            hits = sorted(
                q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in SUPPORTED_SUFFIXES
            )
            for q in hits:
                add(q, str(q))
            if not hits:
                unmatched.append(arg)
        elif p.exists() or p.is_symlink():
            add(p, arg)
        elif glob.has_magic(arg):
            hits = sorted(Path(h) for h in glob.glob(arg, recursive=True))
            hits = [h for h in hits if h.is_file()]
            for h in hits:
                add(h, str(h))
            if not hits:
                unmatched.append(arg)
        else:
            unmatched.append(arg)
    return found, unmatched


def read_letter(
    path: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES, source: str | None = None
) -> Letter:
    """Read one file into a Letter, or raise IngestError with an actionable message."""
    path = Path(path)
    source = source if source is not None else str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise IngestError(ErrorKind.not_found, f"{source}: file not found") from None
    if not path.is_file():
        raise IngestError(ErrorKind.unsupported_type, f"{source}: not a regular file")
    if size == 0:
        raise IngestError(ErrorKind.empty, f"{source}: file is empty (0 bytes)")
    if size > max_bytes:
        raise IngestError(
            ErrorKind.too_large,
            f"{source}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit; "
            "IMR letters are a few hundred KB, so check the file, or raise --max-mb",
        )
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    reader: Literal["pdfium", "text", "pypdf"]
    if data[:1024].lstrip().startswith(b"%PDF-"):
        text, pages = _pdf_text(data, source)
        reader = "pdfium"
    elif path.suffix.lower() == ".pdf":
        raise IngestError(
            ErrorKind.pdf_corrupt, f"{source}: named .pdf but has no PDF header; is it a PDF?"
        )
    else:
        text, pages, reader = _decode_text(data, source), None, "text"
    text = normalize_text(text)
    if len(text.strip()) < MIN_TEXT_CHARS:
        if reader == "pdfium":
            raise IngestError(
                ErrorKind.pdf_no_text,
                f"{source}: the PDF has no text layer ({pages} page(s), probably scanned); "
                "run OCR first (e.g. ocrmypdf) and audit the OCR'd file",
            )
        raise IngestError(ErrorKind.empty, f"{source}: file holds no text")
    return Letter(
        letter_id=path.stem, source=source, sha256=digest, text=text, reader=reader, pages=pages
    )


def normalize_text(text: str) -> str:
    """Unify line endings and drop characters that never belong in letter text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\ufeff", "").replace("\x00", "").replace("\ufffe", "")
    return undouble_lines(text.replace("\x02", "-"))


def _pdf_text(data: bytes, source: str) -> tuple[str, int]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        msg = str(exc).lower()
        if "password" in msg:
            raise IngestError(
                ErrorKind.pdf_encrypted,
                f"{source}: the PDF needs a password to open; save an unprotected copy "
                "(e.g. qpdf --decrypt --password=PW in.pdf out.pdf) and audit that",
            ) from None
        raise IngestError(
            ErrorKind.pdf_corrupt,
            f"{source}: the PDF cannot be parsed ({exc}); it may be truncated or damaged, "
            "re-download or re-export it",
        ) from None
    try:
        parts = []
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            parts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return "\n".join(parts), len(parts)
    except pdfium.PdfiumError as exc:
        raise IngestError(
            ErrorKind.pdf_corrupt, f"{source}: a page cannot be read ({exc})"
        ) from None
    finally:
        pdf.close()


def _decode_text(data: bytes, source: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    sample = data[:65536]
    if b"\x00" in sample or _binary_ratio(sample) > 0.05:
        raise IngestError(
            ErrorKind.binary,
            f"{source}: looks like a binary file, not text or PDF; give .pdf or UTF-8 .txt letters",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.start
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise IngestError(
            ErrorKind.encoding,
            f"{source}: not UTF-8 (bad byte at offset {bad}) and not Windows-1252; "
            "convert it, e.g. iconv -f LATIN1 -t UTF-8 in.txt > out.txt",
        ) from None
    if _CONTROL.search(text):
        raise IngestError(
            ErrorKind.encoding,
            f"{source}: not UTF-8 (bad byte at offset {bad}); convert it to UTF-8 and retry",
        )
    return text


def _binary_ratio(sample: bytes) -> float:
    if not sample:
        return 0.0
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return controls / len(sample)


def iter_letters(
    inputs: Iterable[InputFile], **kwargs
) -> Iterator[tuple[InputFile, Letter | IngestError]]:
    for item in inputs:
        try:
            yield item, read_letter(item.path, source=item.source, **kwargs)
        except IngestError as exc:
            yield item, exc


def file_sha256(path: Path) -> str | None:
    try:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None


def owner_only_open(path: Path, mode: str = "w", **kwargs):
    """Open a file for writing, created readable and writable by the owner only (0600)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.chmod(path, 0o600)
    return os.fdopen(fd, mode, **kwargs)
