"""What edge lists and their side tables look like, shared by the in-memory and the
streaming ingest: recognised column names, the text sniffer (delimiter, header, leading
comments, id types), column resolution, and creator/account table files."""

from __future__ import annotations

import gzip
import re
import resource
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from kolgraph.exceptions import EmptyInputError, InputError

FOLLOWER_NAMES = ("follower", "follower_id", "source", "src", "from", "u", "user", "user_id", "source_id")
FOLLOWEE_NAMES = ("followee", "followee_id", "followed", "target", "dst", "to", "v", "creator",
                  "creator_id", "target_id", "follows")
TIME_NAMES = ("followed_at", "time", "timestamp", "ts", "created_at", "date")
_COMMENT = ("#", "%")
_INT_RE = re.compile(r"^[+-]?\d+$")
_SHOW_BAD = 5


@dataclass
class TextFormat:
    """What the sniffer learnt from a text file's first lines."""

    delimiter: str | None  # None = runs of whitespace
    header: list[str] | None
    skip_lines: int  # leading comment/blank lines (before the header)
    n_fields: int  # fields per row in the first data row (trailing delimiter included)
    sample: list[str] = field(default_factory=list)
    sample_rows: list[list[str]] = field(default_factory=list)

    def is_int_column(self, k: int) -> bool:
        """Whether column ``k`` holds integers: most sampled rows say so (the rest are bad rows)."""
        rows = [r for r in self.sample_rows if len(r) > k]
        return not rows or sum(bool(_INT_RE.match(r[k].strip('"'))) for r in rows) > 0.5 * len(rows)


def read_table_file(path: str | Path, what: str) -> pa.Table:
    """A creators/accounts table from CSV (header row required) or Parquet."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what}: {path}: no such file")
    try:
        if _is_parquet(path):
            table = pq.read_table(path)
        else:
            table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(
                delimiter="\t" if path.suffix in (".tsv", ".tab") else ","))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{what}: {path}: cannot be read as a table: {_arrow_msg(exc)}") from None
    if table.num_rows == 0:
        raise EmptyInputError(f"{what}: {path} has a header but no rows")
    return table


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux: ru_maxrss is in KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024





def sniff(path: Path, *, header: bool | None = None, delimiter: str | None = None,
          max_lines: int = 200) -> TextFormat:
    """Guess delimiter, header, leading comments and id types from the first lines."""
    lines = []
    skip = 0
    with _open_text(path) as fh:
        for raw in fh:
            line = raw.rstrip("\r\n")
            if not lines and (not line.strip() or line.lstrip().startswith(_COMMENT)):
                skip += 1
                continue
            if line.strip() and not line.lstrip().startswith(_COMMENT):
                lines.append(line)
            if len(lines) >= max_lines:
                break
    if not lines:
        return TextFormat(delimiter, None, skip, 0)
    first = lines[0]
    if delimiter is None:
        for cand in (",", "\t", ";", "|"):
            if cand in first:
                delimiter = cand
                break
    tokens = _split(first, delimiter)
    if header is None:
        header = _looks_like_header(tokens, [_split(x, delimiter) for x in lines[1:6]])
    names = None
    data = lines
    if header:
        names = [t.strip().strip('"') for t in tokens]
        data = lines[1:]
    # the fast reader splits on single characters, so a trailing space is a field of its own
    n_fields = len(first.split(delimiter or " "))
    sample_rows = [_split(x, delimiter) for x in data[:max_lines]]
    return TextFormat(delimiter, names, skip, n_fields, data[:5], sample_rows)


def _looks_like_header(tokens: list[str], following: list[list[str]]) -> bool:
    low = [t.strip().strip('"').lower() for t in tokens]
    if any(t in FOLLOWER_NAMES + FOLLOWEE_NAMES + TIME_NAMES for t in low):
        return True
    first_numeric = all(_INT_RE.match(t) for t in tokens[:2])
    rest_numeric = bool(following) and all(all(_INT_RE.match(t) for t in r[:2]) for r in following)
    return not first_numeric and rest_numeric


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return [t.strip() for t in line.split(delimiter)]


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _resolve_columns(fmt: TextFormat, follower_col, followee_col, time_col, edge_times, path: Path
                     ) -> tuple[int, int, int | None]:
    names = fmt.header

    def pos(col, default_names, default, what):
        if col is None:
            if names:
                low = [n.lower() for n in names]
                for cand in default_names:
                    if cand in low:
                        return low.index(cand)
            return default
        if isinstance(col, int) or (isinstance(col, str) and col.isdigit() and not names):
            return int(col)
        if not names:
            raise InputError(f"{path}: {what} column {col!r} given by name, but the file has no "
                             "header row; give a 0-based position or add a header")
        if col not in names:
            raise InputError(f"{path}: no column {col!r} (columns: {', '.join(names)})")
        return names.index(col)

    a = pos(follower_col, FOLLOWER_NAMES, 0, "follower")
    b = pos(followee_col, FOLLOWEE_NAMES, 1, "followee")
    t = None
    if time_col is not None or edge_times:
        t = pos(time_col, TIME_NAMES, 2, "time")
    if len({a, b} | ({t} if t is not None else set())) < (3 if t is not None else 2):
        raise InputError(f"{path}: follower, followee and time columns must differ")
    return a, b, t


def _read_side_table(src, what: str, id_is_int: bool, columns: dict[str, str] | None = None,
                     mapped: dict | None = None) -> pa.Table:
    table = src if isinstance(src, pa.Table) else read_table_file(src, what)
    if what == "accounts":
        from kolgraph.columns import apply_columns

        table, mapping = apply_columns(table, columns, where=what)
        if mapped is not None:
            mapped.update(mapping.renamed())
    if "id" not in table.column_names:
        raise InputError(f"{what}: needs an 'id' column (columns: {', '.join(table.column_names)})")
    ids = table.column("id")
    if id_is_int and not pa.types.is_integer(ids.type):
        try:
            ids = pc.utf8_trim_whitespace(ids.cast(pa.string())).cast(pa.int64())
        except pa.ArrowInvalid:
            raise InputError(f"{what}: ids are text but the edge list has integer ids; make them match "
                             "(or ingest the edges with id_type='str' / --id-type str)") from None
    elif not id_is_int and pa.types.is_integer(ids.type):
        ids = ids.cast(pa.large_string())
    if ids.null_count:
        row = int(np.flatnonzero(~pc.is_valid(ids).to_numpy(zero_copy_only=False))[0]) + 1
        raise InputError(f"{what}: row {row} has an empty id")
    return table.set_column(table.column_names.index("id"), "id", ids)


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def _arrow_msg(exc: Exception) -> str:
    return str(exc).splitlines()[0]
