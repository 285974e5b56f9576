"""A built form as a formatted XLSX: merged title row, subtitle, headers, number formats, totals, print setup."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import xlsxwriter

from pipelines.forms import Form, totals


def write_form(form: Form, frame: pl.DataFrame, path: Path, subtitle: str) -> None:
    """Write ``frame`` (from :func:`build_form`) to ``path``: row 1 the title, row 2 the subtitle, row 3 the headers."""
    width = len(form.columns)
    with xlsxwriter.Workbook(path) as book:
        sheet = book.add_worksheet(form.title[:31])
        title = book.add_format({"bold": True, "font_size": 16, "align": "center", "valign": "vcenter"})
        note = book.add_format({"font_size": 10, "align": "left"})
        header = book.add_format({"bold": True, "border": 1, "align": "center", "valign": "vcenter", "text_wrap": True, "bg_color": "#DDEBF7"})
        plain = book.add_format({"border": 1})
        sheet.merge_range(0, 0, 0, width - 1, form.title, title)
        sheet.merge_range(1, 0, 1, width - 1, subtitle, note)
        sheet.set_row(0, 30)
        formats = [book.add_format({"border": 1, "num_format": c.format}) if c.format else plain for c in form.columns]
        for j, column in enumerate(form.columns):
            sheet.write(2, j, column.header, header)
            longest = max([len(str(v)) for v in frame[column.header].head(200).to_list() if v is not None] + [len(column.header) * 2])
            sheet.set_column(j, j, min(max(longest + 2, 8), 40))
        for i, row in enumerate(frame.iter_rows(), start=3):
            for j, value in enumerate(row):
                sheet.write(i, j, value, formats[j]) if value is not None else sheet.write_blank(i, j, None, formats[j])
        if form.totals:
            sums = totals(form, frame)
            last = 3 + frame.height
            bold = book.add_format({"bold": True, "border": 1})
            sheet.write(last, 0, "合计", bold)
            for j, column in enumerate(form.columns[1:], start=1):
                value = sums[column.header]
                sheet.write(last, j, value, book.add_format({"bold": True, "border": 1, "num_format": column.format or "General"})) if value is not None \
                    else sheet.write_blank(last, j, None, bold)
        sheet.freeze_panes(3, 0)
        sheet.repeat_rows(2)
        sheet.fit_to_pages(1, 0)
        sheet.set_paper(9)  # A4
        if form.landscape or width > 7:
            sheet.set_landscape()
