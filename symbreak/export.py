"""CSV downloads that a spreadsheet opens as data, never as formulas.

A cell or header that starts with =, +, -, @, a tab or a carriage return is
run as a formula by Excel, LibreOffice and Google Sheets (CSV injection).
OWASP's advice is to prefix such a text cell with a single quote. A plain
number keeps its sign: a weight of -0.25 stays a number, since no formula
can hide in a column of numbers or in text that reads as a decimal number.
"""

from __future__ import annotations

import re

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise(cell: object) -> object:
    """The cell with a leading quote if it is text a spreadsheet would run as a formula; otherwise unchanged."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def csv_text(frame: pd.DataFrame) -> str:
    """The frame as CSV text (no index), its text cells and headers neutralised against formula injection."""
    safe = frame.copy(deep=False)
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        if pd.api.types.is_numeric_dtype(column):
            continue
        # A history's text columns repeat a few names over many rows: decide once per distinct cell.
        changed = {cell: neutralise(cell) for cell in pd.unique(column) if neutralise(cell) is not cell}
        if changed:
            safe.isetitem(i, column.replace(changed))
    header = [str(neutralise(str(name))) for name in frame.columns]
    return safe.to_csv(index=False, header=header)
