import io
import zipfile

import openpyxl
import pytest
from docx import Document as DocxDocument
from pptx import Presentation
from pptx.util import Inches
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


def xlsx_with(sheets: dict[str, list[list[object]]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def pptx_with(slides: list[tuple[str, str]], *, notes: str = "") -> bytes:
    """A presentation of (title, body) slides; `notes` on the first one."""
    presentation = Presentation()
    for number, (title, body) in enumerate(slides):
        slide = presentation.slides.add_slide(presentation.slide_layouts[5])  # title only
        slide.shapes.title.text = title
        box = slide.shapes.add_textbox(Inches(1), Inches(2), Inches(6), Inches(2))
        box.text_frame.text = body
        if number == 0 and notes:
            slide.notes_slide.notes_text_frame.text = notes
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


HTML_PAGE = (
    b"<!doctype html><html><head><title>Opening hours</title></head><body>"
    b"<nav><a href='/'>Home</a> <a href='/shop'>Shop</a> <a href='/contact'>Contact us today</a></nav>"
    b"<main><article><h1>Opening hours</h1><p>The museum opens at nine in the morning from Tuesday to "
    b"Sunday, and stays open until eight on Thursdays.</p><p>It is closed on Mondays and on the first of "
    b"January.</p></article></main><footer><p>Copyright 2026 City Museum. Cookie settings.</p></footer>"
    b"</body></html>"
)


def test_html_keeps_the_main_text_without_navigation_or_footer():
    text = extract_text(data=HTML_PAGE, kind=DocumentKind.HTML)

    assert "opens at nine in the morning" in text
    assert "closed on Mondays" in text
    assert "Contact us today" not in text
    assert "Cookie settings" not in text


def test_csv_rows_become_lines_of_cells():
    text = extract_text(data=b"product;price\nkayak;899\npaddle;59\n", kind=DocumentKind.CSV)

    assert text.splitlines() == ["product | price", "kayak | 899", "paddle | 59"]


def test_xlsx_sheets_become_titled_tables():
    data = xlsx_with({"Prices": [["product", "price"], ["kayak", 899]], "Empty": []})

    text = extract_text(data=data, kind=DocumentKind.XLSX)

    assert text.splitlines() == ["## Prices", "product | price", "kayak | 899"]


def test_pptx_slides_and_notes_are_read():
    data = pptx_with(
        [("Roadmap", "Ship the kayak rental in May."), ("Team", "Four guides.")], notes="Ask Ola."
    )

    text = extract_text(data=data, kind=DocumentKind.PPTX)

    assert "## Slide 1\nRoadmap\nShip the kayak rental in May.\nAsk Ola." in text
    assert "## Slide 2\nTeam\nFour guides." in text


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (DocumentKind.CSV, b"a,b\n" * 6),
        (DocumentKind.XLSX, None),
    ],
)
def test_sheets_past_the_row_limit_are_refused_while_reading(settings, kind, data):
    settings.MAX_SHEET_ROWS = 5
    if data is None:
        data = xlsx_with({"Rows": [[n] for n in range(6)]})

    with pytest.raises(DocumentContentError, match="more than 5 rows"):
        extract_text(data=data, kind=kind)


def test_empty_rows_count_towards_the_row_limit(settings):
    # A sheet can declare a million empty rows: they are work too.
    settings.MAX_SHEET_ROWS = 5

    with pytest.raises(DocumentContentError, match="more than 5 rows"):
        extract_text(data=b"a\n" + b",\n" * 10, kind=DocumentKind.CSV)


def test_a_pptx_past_the_slide_limit_is_refused_before_reading_a_slide(settings):
    settings.MAX_PPTX_SLIDES = 2

    with pytest.raises(DocumentContentError, match="3 slides; the limit is 2"):
        extract_text(data=pptx_with([("a", "1"), ("b", "2"), ("c", "3")]), kind=DocumentKind.PPTX)


@pytest.mark.parametrize(
    ("kind", "label"), [(DocumentKind.XLSX, "spreadsheet"), (DocumentKind.PPTX, "presentation")]
)
def test_office_zip_bombs_are_refused_from_the_directory(settings, kind, label):
    settings.MAX_DOCX_UNCOMPRESSED_BYTES = 1000

    with pytest.raises(DocumentContentError, match=f"The {label} unpacks to 2000 bytes; the limit is 1000"):
        extract_text(data=_zip({"xl/worksheets/sheet1.xml": b" " * 2000}), kind=kind)


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (
            DocumentKind.HTML,
            b"<html><body><article><p>" + b"eleven chars " * 3 + b"</p></article></body></html>",
        ),
        (DocumentKind.CSV, b"eleven,chars\n"),
        (DocumentKind.PPTX, None),
    ],
)
def test_new_types_past_the_character_limit_are_refused(settings, kind, data):
    settings.MAX_DOCUMENT_CHARS = 10
    if data is None:
        data = pptx_with([("eleven chars", "and more")])

    with pytest.raises(DocumentContentError, match="more than 10 characters"):
        extract_text(data=data, kind=kind)


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
