"""From uploaded bytes to retrieval chunks: detect the type, extract the text, split it.

The type is decided by the file extension AND the content: a `.pdf` that does not start with %PDF is
refused, so a renamed binary never reaches a parser. The work is bounded by settings (MAX_DOCX_* for every
Office file, MAX_PDF_PAGES, MAX_SHEET_ROWS, MAX_PPTX_SLIDES, MAX_DOCUMENT_CHARS, MAX_DOCUMENT_CHUNKS): a
bomb is refused with a message, not inflated. HTML (an upload or a crawled page) keeps its main text only,
as trafilatura finds it: no navigation, header or footer.
"""

import csv
import enum
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings

from chatsphere.services.exceptions import DocumentContentError, UnsupportedFileTypeError

# The parsers and the splitter are imported by the functions that use them: every Django process imports
# this module (the upload views), and loading them all took ~1 s of each web worker's and manage.py's start.


class DocumentKind(enum.Enum):
    TEXT = "text/plain"
    MARKDOWN = "text/markdown"
    PDF = "application/pdf"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    HTML = "text/html"
    CSV = "text/csv"
    XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

    @property
    def content_type(self) -> str:
        return self.value


KIND_BY_EXTENSION = {
    ".txt": DocumentKind.TEXT,
    ".md": DocumentKind.MARKDOWN,
    ".pdf": DocumentKind.PDF,
    ".docx": DocumentKind.DOCX,
    ".html": DocumentKind.HTML,
    ".htm": DocumentKind.HTML,
    ".csv": DocumentKind.CSV,
    ".xlsx": DocumentKind.XLSX,
    ".pptx": DocumentKind.PPTX,
}
SUPPORTED_EXTENSIONS = ", ".join(KIND_BY_EXTENSION)
SNIFF_BYTES = 1024
# Office files are zip archives; the name a person knows each by, for messages.
_ZIPPED = {
    DocumentKind.DOCX: "Word document",
    DocumentKind.XLSX: "spreadsheet",
    DocumentKind.PPTX: "presentation",
}
_TEXTUAL = (DocumentKind.TEXT, DocumentKind.MARKDOWN, DocumentKind.HTML, DocumentKind.CSV)


@dataclass(frozen=True)
class HtmlText:
    title: str
    text: str


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
    if kind in _ZIPPED and not head.startswith(b"PK\x03\x04"):
        raise UnsupportedFileTypeError(f"{filename} is named {extension} but is not a {_ZIPPED[kind]}.")
    if kind in _TEXTUAL and b"\x00" in head[:SNIFF_BYTES]:
        raise UnsupportedFileTypeError(f"{filename} is named {extension} but contains binary data.")
    return kind


def extract_text(*, data: bytes, kind: DocumentKind) -> str:
    """The document's text; raises DocumentContentError with a message a user can act on."""
    if kind is DocumentKind.PDF:
        text = _pdf_text(data)
    elif kind in _ZIPPED:
        _check_office_archive(data, label=_ZIPPED[kind])
        if kind is DocumentKind.DOCX:
            text = _docx_text(data)
        elif kind is DocumentKind.XLSX:
            text = _xlsx_text(data)
        else:
            text = _pptx_text(data)
    elif kind is DocumentKind.HTML:
        text = html_text(data).text
    elif kind is DocumentKind.CSV:
        text = _csv_text(_utf8(data))
    else:
        text = _utf8(data)
    if not text.strip():
        raise DocumentContentError("The document contains no text.")
    _check_chars(len(text))
    return text


def html_text(data: bytes | str, *, url: str | None = None) -> HtmlText:
    """The main text of an HTML page (no navigation, header, footer or scripts) and its title.

    The caller bounds the input's size (MAX_UPLOAD_BYTES, WEB_FETCH_MAX_BYTES); the text is bounded here.
    """
    import trafilatura
    from trafilatura.settings import Document as ExtractedPage

    # Precision, not recall: on a short page the recall fallback keeps the navigation's links as text.
    extracted = trafilatura.bare_extraction(
        data, url=url, with_metadata=True, include_comments=False, include_tables=True, favor_precision=True
    )
    page = extracted if isinstance(extracted, ExtractedPage) else None  # None: no main text found
    text = "" if page is None else (page.text or "")
    title = "" if page is None else (page.title or "")
    _check_chars(len(text))
    return HtmlText(title=title.strip(), text=text)


def split_text(text: str) -> list[str]:
    """Overlapping chunks of CHUNK_SIZE characters, never blank (the agent refuses blank chunks)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

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


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentContentError(
            f"The file is not UTF-8 text (invalid byte at position {exc.start}); save it as UTF-8."
        ) from exc


def _check_office_archive(data: bytes, *, label: str) -> None:
    """Refuse a zip bomb from the archive's directory alone, before inflating anything.

    zipfile never inflates a member past the size its directory declares, so these sums bound the work.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise DocumentContentError(f"The {label} could not be read; it may be damaged.") from exc
    if len(members) > settings.MAX_DOCX_MEMBERS:
        raise DocumentContentError(
            f"The {label} has {len(members)} parts; the limit is {settings.MAX_DOCX_MEMBERS}."
        )
    uncompressed = sum(member.file_size for member in members)
    if uncompressed > settings.MAX_DOCX_UNCOMPRESSED_BYTES:
        raise DocumentContentError(
            f"The {label} unpacks to {uncompressed} bytes; the limit is "
            f"{settings.MAX_DOCX_UNCOMPRESSED_BYTES} bytes."
        )


def _table_text(rows: Iterable[Iterable[object]], *, label: str) -> list[str]:
    """One line per non-empty row, cells joined by " | "; refused past MAX_SHEET_ROWS rows (empty ones
    count: a sheet can declare a million of them) or MAX_DOCUMENT_CHARS characters, while reading."""
    lines: list[str] = []
    chars = 0
    for count, row in enumerate(rows, start=1):
        if count > settings.MAX_SHEET_ROWS:
            raise DocumentContentError(
                f"The {label} has more than {settings.MAX_SHEET_ROWS} rows; split it into smaller files."
            )
        cells = ["" if cell is None else str(cell).strip() for cell in row]
        if any(cells):
            lines.append(" | ".join(cells))
            chars += len(lines[-1]) + 1
            _check_chars(chars)
    return lines


def _csv_text(text: str) -> str:
    try:
        dialect: type[csv.Dialect] = csv.Sniffer().sniff(text[:SNIFF_BYTES], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel  # one column, or too little to tell: commas
    try:
        return "\n".join(_table_text(csv.reader(io.StringIO(text), dialect), label="CSV file"))
    except csv.Error as exc:
        raise DocumentContentError(f"The CSV file could not be read ({exc}).") from exc


def _xlsx_text(data: bytes) -> str:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise DocumentContentError("The spreadsheet could not be read; it may be damaged.") from exc
    try:
        sheets: list[str] = []
        for sheet in workbook.worksheets:
            lines = _table_text(sheet.iter_rows(values_only=True), label="spreadsheet")
            if lines:
                sheets.append("\n".join([f"## {sheet.title}", *lines]))
    finally:
        workbook.close()
    return "\n\n".join(sheets)


def _pptx_text(data: bytes) -> str:
    from pptx import Presentation
    from pptx.exc import PackageNotFoundError

    try:
        presentation = Presentation(io.BytesIO(data))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError) as exc:
        raise DocumentContentError("The presentation could not be read; it may be damaged.") from exc
    slide_count = len(presentation.slides)
    if slide_count > settings.MAX_PPTX_SLIDES:
        raise DocumentContentError(
            f"The presentation has {slide_count} slides; the limit is {settings.MAX_PPTX_SLIDES}. Split it."
        )
    slides: list[str] = []
    chars = 0
    for number, slide in enumerate(presentation.slides, start=1):
        parts = [f"## Slide {number}"]
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            if shape.has_table:
                parts.extend(" | ".join(cell.text for cell in row.cells) for row in shape.table.rows)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            parts.append(slide.notes_slide.notes_text_frame.text)
        content = [part for part in parts[1:] if part.strip()]
        if content:
            slides.append("\n".join([parts[0], *content]))
            chars += len(slides[-1])
        _check_chars(chars)  # before reading the next slide
    return "\n\n".join(slides)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

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
    from docx import Document as DocxDocument
    from docx.opc.exceptions import OpcError

    try:
        document = DocxDocument(io.BytesIO(data))
    except (zipfile.BadZipFile, OpcError, KeyError, ValueError) as exc:
        raise DocumentContentError("The Word document could not be read; it may be damaged.") from exc
    paragraphs = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            paragraphs.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(paragraphs)
