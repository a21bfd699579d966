import io
import zipfile

import pytest
from docx import Document as DocxDocument
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from chatsphere.services.document_service import DocumentKind, detect_kind, extract_text, split_text
from chatsphere.services.exceptions import DocumentContentError, UnsupportedFileTypeError


def pdf_with_text(text: str) -> bytes:
    writer = PdfWriter()
    page = writer.add_blank_page(width=612, height=792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    content = DecodedStreamObject()
    content.set_data(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode())
    page[NameObject("/Contents")] = writer._add_object(content)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def docx_with(paragraphs: list[str]) -> bytes:
    document = DocxDocument()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_pdf_text_is_extracted():
    data = pdf_with_text("Penguins eat krill")
    assert detect_kind(filename="a.PDF", head=data[:1024]) is DocumentKind.PDF
    assert "Penguins eat krill" in extract_text(data=data, kind=DocumentKind.PDF)


def test_docx_text_is_extracted():
    data = docx_with(["First paragraph", "Second paragraph"])
    assert detect_kind(filename="a.docx", head=data[:1024]) is DocumentKind.DOCX
    assert extract_text(data=data, kind=DocumentKind.DOCX) == "First paragraph\nSecond paragraph"


def test_a_pdf_without_text_is_a_readable_error():
    writer = PdfWriter()
    writer.add_blank_page(width=100, height=100)
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(DocumentContentError, match="no extractable text"):
        extract_text(data=buffer.getvalue(), kind=DocumentKind.PDF)


def test_a_damaged_pdf_is_a_readable_error():
    with pytest.raises(DocumentContentError, match="could not be read"):
        extract_text(data=b"%PDF-1.7 garbage", kind=DocumentKind.PDF)


def test_non_utf8_text_is_a_readable_error():
    with pytest.raises(DocumentContentError, match="not UTF-8"):
        extract_text(data="café".encode("latin-1"), kind=DocumentKind.TEXT)


@pytest.mark.parametrize(
    ("filename", "head"),
    [
        ("a.pdf", b"PK\x03\x04"),
        ("a.docx", b"%PDF-1.7"),
        ("a.exe", b"MZ"),
        ("noext", b"text"),
        ("a.md", b"\x00\x01"),
    ],
)
def test_type_is_checked_by_extension_and_content(filename, head):
    with pytest.raises(UnsupportedFileTypeError):
        detect_kind(filename=filename, head=head)


def test_split_text_respects_chunk_size_and_drops_blank_chunks(settings):
    settings.CHUNK_SIZE = 50
    settings.CHUNK_OVERLAP = 10
    chunks = split_text(("word " * 40 + "\n\n   \n\n") * 3)
    assert len(chunks) > 3
    assert all(0 < len(chunk) <= 50 and chunk.strip() for chunk in chunks)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_docx_that_unpacks_past_the_limit_is_refused_from_its_directory(settings):
    settings.MAX_DOCX_UNCOMPRESSED_BYTES = 1000

    with pytest.raises(DocumentContentError, match="unpacks to 2000 bytes; the limit is 1000"):
        extract_text(data=_zip({"word/document.xml": b" " * 2000}), kind=DocumentKind.DOCX)


def test_a_docx_of_too_many_parts_is_refused(settings):
    settings.MAX_DOCX_MEMBERS = 3

    with pytest.raises(DocumentContentError, match="4 parts; the limit is 3"):
        extract_text(data=_zip({f"part{n}.xml": b"x" for n in range(4)}), kind=DocumentKind.DOCX)


def test_a_pdf_past_the_page_limit_is_refused_before_extraction(settings):
    settings.MAX_PDF_PAGES = 1
    writer = PdfWriter()
    writer.add_blank_page(width=100, height=100)
    writer.add_blank_page(width=100, height=100)
    buffer = io.BytesIO()
    writer.write(buffer)

    with pytest.raises(DocumentContentError, match="2 pages; the limit is 1"):
        extract_text(data=buffer.getvalue(), kind=DocumentKind.PDF)


def test_text_past_the_character_limit_is_refused(settings):
    settings.MAX_DOCUMENT_CHARS = 10

    with pytest.raises(DocumentContentError, match="more than 10 characters"):
        extract_text(data=b"eleven chars", kind=DocumentKind.TEXT)
    with pytest.raises(DocumentContentError, match="more than 10 characters"):
        extract_text(data=pdf_with_text("eleven chars"), kind=DocumentKind.PDF)


def test_text_past_the_chunk_limit_is_refused(settings):
    settings.CHUNK_SIZE, settings.CHUNK_OVERLAP, settings.MAX_DOCUMENT_CHUNKS = 10, 0, 2

    with pytest.raises(DocumentContentError, match="3 chunks; the limit is 2"):
        split_text("aaaaaaaa\n\nbbbbbbbb\n\ncccccccc")
