"""Readers for each native delivery format. Every reader returns the rows as received.

Output: one polars frame per file with the source columns (text formats read as strings, so
nothing is coerced before bronze), plus ``_source_row`` — the row a person would look at in the
file: the CSV/JSON-lines line number, the Excel row number, the position of the JSON record or
XML element, the Parquet row number (all 1-based). Rows a format-level parser could not split
carry ``_malformed`` (the reason) and ``_raw`` (the text) so silver can quarantine them.

File-level problems (wrong encoding, truncated workbook, empty file, broken XML) raise
:class:`SourceFileError` naming the file and, where known, the line.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import fastexcel
import numpy as np
import polars as pl

from pipelines.sources.spec import (
    CsvFormat,
    Format,
    JsonFormat,
    JsonLinesFormat,
    ParquetFormat,
    XlsxFormat,
    XmlFormat,
)

ROW = "_source_row"
LINES = "_source_lines"  # physical lines a row spans (a quoted field may hold line breaks); 1 when absent
MALFORMED = "_malformed"
RAW = "_raw"


class SourceFileError(Exception):
    """A delivered file that cannot be read at all; the message names the file."""

    def __init__(self, path: Path | str, problem: str, line: int | None = None):
        self.path = str(path)
        self.problem = problem
        self.line = line
        super().__init__(f"{path}: {problem}")


def read_source_file(path: Path, fmt: Format) -> pl.DataFrame:
    """Read one landing file in its system's native format (see module docstring)."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise SourceFileError(path, "empty file (0 bytes)")
    readers = {
        "csv": _read_csv,
        "xlsx": _read_xlsx,
        "jsonl": _read_jsonl,
        "json": _read_json,
        "xml": _read_xml,
        "parquet": _read_parquet,
    }
    df = readers[fmt.kind](path, fmt)  # type: ignore[operator]
    if df.height == 0:
        raise SourceFileError(path, "no data rows (the file has a header or wrapper only)")
    return df


def count_received(path: Path, fmt: Format) -> int:
    """How many records the file holds, counted without the reader (conservation counts from the
    file): CSV — non-blank physical lines below the header (a row whose quoted field spans lines
    accounts for each of them); JSON lines — non-blank lines; XML — opening record tags; Parquet —
    the row count in the file's footer; Excel — non-empty rows below the header; JSON — the
    records list's length."""
    path = Path(path)
    kind = fmt.kind
    if kind in ("csv", "jsonl"):
        # a line holding anything but whitespace (bytes: \n is one byte in GBK and UTF-8 alike)
        non_blank = sum(1 for _ in re.finditer(rb"(?m)^[ \t\r\f\v]*[^\s]", path.read_bytes().lstrip(b"\xef\xbb\xbf")))
        return max(non_blank - (1 if kind == "csv" else 0), 0)
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows
        except Exception as err:  # damaged footer
            raise SourceFileError(path, f"cannot read the Parquet footer: {str(err).splitlines()[0]}") from None
    if kind == "xml":
        tag = re.escape(fmt.record_tag)  # type: ignore[union-attr]
        return len(re.findall(rb"<" + tag.encode() + rb"[\s/>]", path.read_bytes()))
    return _read_counted(path, fmt)


def _read_counted(path: Path, fmt: Format) -> int:
    """Formats whose records only their parser can delimit (Excel sheets, JSON documents)."""
    if fmt.kind == "xlsx":
        sheet = fastexcel.read_excel(str(path)).load_sheet(fmt.sheet, header_row=None, dtypes="string")  # type: ignore[union-attr]
        grid = sheet.to_polars().slice(fmt.title_rows + fmt.header_rows)  # type: ignore[union-attr]
        return grid.filter(~pl.all_horizontal(pl.all().is_null())).height
    payload = json.loads(decode(path, fmt.encoding))  # type: ignore[union-attr]
    records = payload.get(fmt.records_key) if fmt.records_key and isinstance(payload, dict) else payload  # type: ignore[union-attr]
    return len(records) if isinstance(records, list) else 0


def read_csv_strict(path: Path, encoding: str = "utf-8") -> pl.DataFrame:
    """A CSV given by a person at the command line (or an address base): every problem the
    landing reader would quarantine is an error here — the first bad line named, with how many
    more. Returns the columns as strings and the line number in ``_source_row``."""
    frame = read_source_file(path, CsvFormat(encoding=encoding))
    if MALFORMED in frame.columns and frame[MALFORMED].is_not_null().any():
        bad = frame.filter(pl.col(MALFORMED).is_not_null())
        more = f" (and {bad.height - 1} more bad line(s))" if bad.height > 1 else ""
        raise SourceFileError(path, f"line {bad[ROW][0]}: {bad[MALFORMED][0]}{more}", bad[ROW][0])
    return frame.drop([c for c in (LINES, MALFORMED, RAW) if c in frame.columns])


# ------------------------------------------------------------------------------------- text
def decode(path: Path, encoding: str, data: bytes | None = None) -> str:
    """Decode a text file (or its ``data``, already read) strictly in its declared encoding,
    naming the line of the first bad byte.

    A GBK system that suddenly sends UTF-8 is the usual accident: real GBK text is almost never
    valid UTF-8, so a file that decodes as UTF-8 with non-ASCII content is refused outright
    rather than read as mojibake.
    """
    data = path.read_bytes() if data is None else data
    enc = encoding.lower().replace("_", "-")
    if enc in {"gbk", "gb2312", "gb18030"}:
        try:
            data.decode("utf-8")
            if not data.isascii():
                raise SourceFileError(
                    path, f"wrong encoding: the file is UTF-8 but this system delivers {encoding.upper()}"
                )
        except UnicodeDecodeError:
            pass
        enc = "gb18030"  # superset of GBK: rare characters in names still decode
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise SourceFileError(
            path, f"wrong encoding: byte {err.start} (line {line}) is not valid {encoding.upper()}{_looks_like(data, enc)}", line
        ) from None
    return text.lstrip("\ufeff")


def _looks_like(data: bytes, tried: str) -> str:
    """The usual wrong encoding, named: UTF-8 expected but the bytes are GBK (or the reverse)."""
    for name, codec in (("GBK", "gb18030"), ("UTF-8", "utf-8")):
        if codec != tried and not (codec == "utf-8" and tried.startswith("utf")):
            try:
                data.decode(codec)
                return f"; the file reads as {name} (encoding {name.lower()})"
            except UnicodeDecodeError:
                continue
    return ""


def _read_csv(path: Path, fmt: CsvFormat) -> pl.DataFrame:
    data = path.read_bytes()
    text = decode(path, fmt.encoding, data)
    if not text.strip():
        raise SourceFileError(path, "empty file (no header)")
    end = text.find("\n")
    _unique_header(path, next(csv.reader(io.StringIO(text if end < 0 else text[:end]), delimiter=fmt.separator)))
    # UTF-8 files go to polars as the bytes read (decode() has proven them valid); others re-encoded
    utf8 = fmt.encoding.lower().replace("_", "-") in {"utf-8", "utf8", "utf-8-sig"}
    payload = data.removeprefix(b"\xef\xbb\xbf") if utf8 else text.encode("utf-8")
    if not _uniform_rows(payload, fmt.separator):
        # Ragged rows, quoted fields or blank lines: the csv module counts fields exactly and
        # keeps line numbers, so good rows load and bad ones are kept for quarantine.
        return _read_csv_tolerant(path, text, fmt.separator)
    df = pl.read_csv(io.BytesIO(payload), separator=fmt.separator, infer_schema=False, empty_string_is_null=False)
    return df.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64))


def _uniform_rows(data: bytes, separator: str) -> bool:
    """True when every line has the header's field count, no quote and no blank line — counted
    over the bytes with numpy (no Python loop, no copy of the text per line)."""
    if b'"' in data:
        return False
    body = data.rstrip(b"\n")
    raw = np.frombuffer(body, dtype=np.uint8)
    breaks = np.flatnonzero(raw == 10)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [raw.size]))
    lengths = ends - starts
    carriage = (lengths > 0) & (raw[np.maximum(ends - 1, 0)] == 13)
    if ((lengths - carriage) <= 0).any():
        return False  # a blank line
    sep = separator.encode("utf-8")
    if len(sep) != 1:
        counts = [body.count(sep, a, b) for a, b in zip(starts.tolist(), ends.tolist())]
        return len(set(counts)) == 1
    counts = np.add.reduceat((raw == sep[0]).view(np.uint8), starts, dtype=np.int32)  # per line; breaks hold no separator
    return bool((counts == counts[0]).all())


def _read_csv_tolerant(path: Path, text: str, separator: str) -> pl.DataFrame:
    """Row by row with the csv module, every physical line accounted for.

    A quoted field may span lines (its row records how many: ``_source_lines``). A row with the
    wrong number of fields is quarantined; when it spans several lines it is an unterminated
    quote that swallowed the lines after it, so only its first line is quarantined and reading
    starts again on the next line — one stray quote costs one row, not the rest of the file."""
    lines = text.splitlines(keepends=True)
    header = next(csv.reader(lines[:1], delimiter=separator))
    width = len(header)
    rows, starts, spans, malformed, raws = [], [], [], [], []
    position = 1  # index into lines of the next unread line
    while position < len(lines):
        reader = csv.reader(itertools.islice(lines, position, None), delimiter=separator)
        restart = False
        while not restart:
            before = reader.line_num
            try:
                row = next(reader)
            except StopIteration:
                position = len(lines)
                break
            except csv.Error as err:  # e.g. a NUL byte or a quote left open at the end of the file
                row, err_text = None, str(err)
            else:
                err_text = ""
            first = position + before  # index of this row's first line
            span = reader.line_num - before
            if row is not None and not any(cell.strip() for cell in row) and span == 1:
                continue  # a blank line is not a record
            if row is not None and len(row) == width:
                rows.append(row)
                starts.append(first + 1)
                spans.append(span)
                malformed.append(None)
                raws.append(None)
                continue
            # a bad row: quarantine its first physical line alone
            rows.append([None] * width)
            starts.append(first + 1)
            spans.append(1)
            raws.append(lines[first].rstrip("\r\n"))
            if err_text:
                malformed.append(f"unreadable line: {err_text}")
            elif span > 1:
                malformed.append("unterminated quote: the line's quoted field never closes")
            else:
                malformed.append(f"row has {len(row)} fields, header has {width}")
            if span > 1 or err_text:  # the reader swallowed lines after it: read them again
                position = first + 1
                restart = True
    df = pl.DataFrame(rows, schema=[(h, pl.String) for h in _unique_header(path, header)], orient="row")
    return df.with_columns(
        pl.Series(ROW, starts, dtype=pl.Int64),
        pl.Series(LINES, spans, dtype=pl.Int64),
        pl.Series(MALFORMED, malformed, dtype=pl.String),
        pl.Series(RAW, raws, dtype=pl.String),
    ).select(ROW, *df.columns, LINES, MALFORMED, RAW)


def _unique_header(path: Path, header: list[str]) -> list[str]:
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise SourceFileError(path, f"header line 1: column(s) {', '.join(duplicated)} appear more than once", 1)
    return header


def _read_jsonl(path: Path, fmt: JsonLinesFormat) -> pl.DataFrame:
    text = decode(path, fmt.encoding)
    # split on \n alone, as the file's records are counted (a U+2028 inside a string is no line break)
    lines = pl.Series("line", text.split("\n"), dtype=pl.String).str.strip_suffix("\r")
    frame = pl.DataFrame({ROW: pl.int_range(1, lines.len() + 1, eager=True, dtype=pl.Int64), "line": lines})
    frame = frame.filter(pl.col("line").str.strip_chars(" \t\r\f\v") != "")
    try:
        decoded = frame["line"].str.json_decode(infer_schema_length=None)
    except pl.exceptions.PolarsError:
        return _records_tolerant(frame[ROW].to_list(), frame["line"].to_list())
    if decoded.dtype != pl.Struct:
        return _records_tolerant(frame[ROW].to_list(), frame["line"].to_list())
    return _stringify(pl.DataFrame({ROW: frame[ROW]}).with_columns(decoded.struct.unnest()))


def _records_tolerant(row_numbers: list[int], lines: list[str]) -> pl.DataFrame:
    """Per-line JSON decoding, used only once a file has shown a broken line."""
    records, malformed, raws = [], [], []
    for line in lines:
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            records.append({})
            malformed.append(f"not a JSON object: {err}")
            raws.append(line)
            continue
        nested = [k for k, v in obj.items() if isinstance(v, (dict, list))]
        records.append({k: None if v is None else json.dumps(v, ensure_ascii=False) if k in nested else str(v) for k, v in obj.items()})
        malformed.append("; ".join(f"nested value in {k}" for k in nested) or None)
        raws.append(line if nested else None)
    df = pl.DataFrame(records, infer_schema_length=None) if any(records) else pl.DataFrame()
    df = df.with_columns(pl.all().cast(pl.String)) if df.width else pl.DataFrame(height=len(lines))
    return df.with_columns(
        pl.Series(ROW, row_numbers, dtype=pl.Int64),
        pl.Series(MALFORMED, malformed, dtype=pl.String),
        pl.Series(RAW, raws, dtype=pl.String),
    )


def _read_json(path: Path, fmt: JsonFormat) -> pl.DataFrame:
    text = decode(path, fmt.encoding)
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as err:
        raise SourceFileError(path, f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}", err.lineno) from None
    records = payload.get(fmt.records_key) if fmt.records_key and isinstance(payload, dict) else payload
    if not isinstance(records, list):
        where = f"key '{fmt.records_key}'" if fmt.records_key else "the top level"
        raise SourceFileError(path, f"expected a list of records at {where}")
    bad = [i for i, r in enumerate(records) if not isinstance(r, dict)]
    try:
        if bad:
            raise TypeError("records that are not objects")
        df = pl.DataFrame(records, infer_schema_length=None) if records else pl.DataFrame()
    except (TypeError, ValueError, pl.exceptions.PolarsError):  # mixed shapes: record by record
        lines = [json.dumps(r, ensure_ascii=False) for r in records]
        return _records_tolerant(list(range(1, len(records) + 1)), lines)
    return _stringify(df.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64)))


def _stringify(df: pl.DataFrame) -> pl.DataFrame:
    """Text formats land in bronze as strings: nothing is coerced before standardisation.

    A nested value (an object or list where a field belongs) is kept as its JSON text and its
    row marked malformed, so silver quarantines that row with the column named."""
    nested = [c for c, t in df.schema.items() if c != ROW and isinstance(t, (pl.Struct, pl.List, pl.Array, pl.Object))]
    if not nested:
        return df.with_columns(pl.exclude(ROW).cast(pl.String))
    flags = [pl.when(pl.col(c).is_not_null()).then(pl.lit(f"nested value in {c}")) for c in nested]
    reason = pl.concat_str(flags, separator="; ", ignore_nulls=True)
    df = df.with_columns(pl.when(reason != "").then(reason).alias(MALFORMED)) if MALFORMED not in df.columns else df
    df = df.with_columns(*[_json_text(c) for c in nested])
    return df.with_columns(pl.exclude(ROW).cast(pl.String))


def _json_text(column: str) -> pl.Expr:
    col = pl.col(column)
    return pl.struct(col.alias("v")).struct.json_encode().str.slice(5).str.strip_suffix("}").alias(column)


def _read_xml(path: Path, fmt: XmlFormat) -> pl.DataFrame:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        line, column = err.position
        raise SourceFileError(path, f"broken XML at line {line}, column {column}: {err}", line) from None
    records = [
        {**{f"@{k}": v for k, v in el.attrib.items()}, **{c.tag: (c.text or "").strip() for c in el}}
        for el in root.iter(fmt.record_tag)
    ]
    if not records:
        raise SourceFileError(path, f"no <{fmt.record_tag}> elements")
    df = pl.DataFrame(records, infer_schema_length=None)
    return _stringify(df.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64)))


# ------------------------------------------------------------------------------------ binary
def _read_xlsx(path: Path, fmt: XlsxFormat) -> pl.DataFrame:
    try:
        sheet = fastexcel.read_excel(str(path)).load_sheet(fmt.sheet, header_row=None, dtypes="string")
        grid = sheet.to_polars()
    except fastexcel.FastExcelError as err:
        first_line = str(err).splitlines()[0]
        raise SourceFileError(path, f"cannot open as XLSX (truncated or not a workbook): {first_line}") from None
    skip = fmt.title_rows + fmt.header_rows
    if grid.height <= skip:
        raise SourceFileError(path, "no data rows below the header")
    names = _flatten_header(grid.slice(fmt.title_rows, fmt.header_rows))
    body = grid.slice(skip)
    body.columns = names
    body = body.with_columns(pl.int_range(skip + 1, skip + 1 + body.height, dtype=pl.Int64).alias(ROW))
    body = body.drop([n for n in names if n.startswith("__blank")])
    data_cols = [c for c in body.columns if c != ROW]
    body = body.filter(~pl.all_horizontal(pl.col(data_cols).is_null()))
    return body.select(ROW, *data_cols)


def _flatten_header(header: pl.DataFrame) -> list[str]:
    """Merged header rows → one name per column.

    A merged group cell only holds its value in its first column, so group labels are carried
    to the right until the next label; the column name is the deepest non-empty label, prefixed
    by its group when that name would otherwise repeat.
    """
    rows = [[(v or "").strip() for v in header.row(i)] for i in range(header.height)]
    carried = []
    for row in rows[:-1]:
        current, filled = "", []
        for value in row:
            current = value or current
            filled.append(current)
        carried.append(filled)
    names = []
    for j in range(header.width):
        labels = [r[j] for r in carried] + [rows[-1][j]]
        leaf = rows[-1][j] or next((rows[i][j] for i in range(len(rows) - 2, -1, -1) if rows[i][j]), "")
        names.append((leaf, labels))
    counts: dict[str, int] = {}
    for leaf, _ in names:
        counts[leaf] = counts.get(leaf, 0) + 1
    out = []
    for j, (leaf, labels) in enumerate(names):
        if not leaf:
            out.append(f"__blank{j}")
        elif counts[leaf] > 1:
            group = next((lab for lab in labels[:-1] if lab and lab != leaf), "")
            out.append(f"{group}/{leaf}" if group else f"{leaf}_{j}")
        else:
            out.append(leaf)
    return out


def _read_parquet(path: Path, fmt: ParquetFormat) -> pl.DataFrame:
    try:
        df = pl.read_parquet(path)
    except Exception as err:  # polars raises several types for damaged files
        raise SourceFileError(path, f"cannot read as Parquet: {str(err).splitlines()[0]}") from None
    return df.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
