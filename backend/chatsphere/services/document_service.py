"""From uploaded bytes to retrieval chunks: detect the type, extract the text, split it.

The type is decided by the file extension AND the content: a `.pdf` that does not start with %PDF is
refused, so a renamed binary never reaches a parser. The work is bounded by settings (MAX_DOCX_*,
MAX_PDF_PAGES, MAX_DOCUMENT_CHARS, MAX_DOCUMENT_CHUNKS): a bomb is refused with a message, not inflated.
"""

import enum
import io
import zipfile
from pathlib import PurePath

from django.conf import settings
from docx import Document as DocxDocument
from docx.opc.exceptions import OpcError
from langchain_text_splitters import RecursiveCharacterTextSplitter
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from chatsphere.services.exceptions import DocumentContentError, UnsupportedFileTypeError


class DocumentKind(enum.Enum):
    TEXT = "text/plain"
    MARKDOWN = "text/markdown"
    PDF = "application/pdf"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

    @property
    def content_type(self) -> str:
        return self.value


KIND_BY_EXTENSION = {
    ".txt": DocumentKind.TEXT,
    ".md": DocumentKind.MARKDOWN,
    ".pdf": DocumentKind.PDF,
    ".docx": DocumentKind.DOCX,
}
SUPPORTED_EXTENSIONS = ", ".join(KIND_BY_EXTENSION)
SNIFF_BYTES = 1024


def detect_kind(*, filename: str, head: bytes) -> DocumentKind:
    """The document kind from `filename`'s extension, confirmed by the first bytes of the content."""
    extension = PurePath(filename).suffix.lower()
    kind = KIND_BY_EXTENSION.get(extension)
    if kind is None:
        raise UnsupportedFileTypeError(
            f"'{extension or filename}' files are not supported; upload one of {SUPPORTED_EXTENSIONS}."
        )
    if kind is DocumentKind.PDF and not head.startswith(b"%PDF-"):
        raise UnsupportedFileTypeError(f"{filename} is named .pdf but is not a PDF file.")
    if kind is DocumentKind.DOCX and not head.startswith(b"PK\x03\x04"):
        raise UnsupportedFileTypeError(f"{filename} is named .docx but is not a Word document.")
    if kind in (DocumentKind.TEXT, DocumentKind.MARKDOWN) and b"\x00" in head[:SNIFF_BYTES]:
        raise UnsupportedFileTypeError(f"{filename} is named {extension} but contains binary data.")
    return kind


def extract_text(*, data: bytes, kind: DocumentKind) -> str:
    """The document's text; raises DocumentContentError with a message a user can act on."""
    if kind is DocumentKind.PDF:
        text = _pdf_text(data)
    elif kind is DocumentKind.DOCX:
        _check_docx_archive(data)
        text = _docx_text(data)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DocumentContentError(
                f"The file is not UTF-8 text (invalid byte at position {exc.start}); save it as UTF-8."
            ) from exc
    if not text.strip():
        raise DocumentContentError("The document contains no text.")
    _check_chars(len(text))
    return text


def split_text(text: str) -> list[str]:
    """Overlapping chunks of CHUNK_SIZE characters, never blank (the agent refuses blank chunks)."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=settings.CHUNK_SIZE, chunk_overlap=settings.CHUNK_OVERLAP
    )
    chunks = [chunk for chunk in splitter.split_text(text) if chunk.strip()]
    if len(chunks) > settings.MAX_DOCUMENT_CHUNKS:
        raise DocumentContentError(
            f"The document makes {len(chunks)} chunks; the limit is {settings.MAX_DOCUMENT_CHUNKS}. "
            "Split it into smaller documents."
        )
    return chunks


def _check_chars(count: int) -> None:
    if count > settings.MAX_DOCUMENT_CHARS:
        raise DocumentContentError(
            f"The document has more than {settings.MAX_DOCUMENT_CHARS} characters of text; "
            "split it into smaller documents."
        )


def _check_docx_archive(data: bytes) -> None:
    """Refuse a zip bomb from the archive's directory alone, before inflating anything.

    zipfile never inflates a member past the size its directory declares, so these sums bound the work.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise DocumentContentError("The Word document could not be read; it may be damaged.") from exc
    if len(members) > settings.MAX_DOCX_MEMBERS:
        raise DocumentContentError(
            f"The Word document has {len(members)} parts; the limit is {settings.MAX_DOCX_MEMBERS}."
        )
    uncompressed = sum(member.file_size for member in members)
    if uncompressed > settings.MAX_DOCX_UNCOMPRESSED_BYTES:
        raise DocumentContentError(
            f"The Word document unpacks to {uncompressed} bytes; the limit is "
            f"{settings.MAX_DOCX_UNCOMPRESSED_BYTES} bytes."
        )


def _pdf_text(data: bytes) -> str:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentContentError("The PDF is password-protected; upload an unprotected copy.")
        page_count = len(reader.pages)
        if page_count > settings.MAX_PDF_PAGES:
            raise DocumentContentError(
                f"The PDF has {page_count} pages; the limit is {settings.MAX_PDF_PAGES}. Split it."
            )
        pages: list[str] = []
        chars = 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            chars += len(pages[-1])
            _check_chars(chars)  # before extracting the next page, not after all of them
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise DocumentContentError("The PDF could not be read; it may be damaged.") from exc
    text = "\n\n".join(pages)
    if not text.strip():
        raise DocumentContentError(
            "The PDF contains no extractable text (is it a scan? run OCR on it and upload again)."
        )
    return text


def _docx_text(data: bytes) -> str:
    try:
        document = DocxDocument(io.BytesIO(data))
    except (zipfile.BadZipFile, OpcError, KeyError, ValueError) as exc:
        raise DocumentContentError("The Word document could not be read; it may be damaged.") from exc
    paragraphs = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            paragraphs.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(paragraphs)
