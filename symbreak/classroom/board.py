"""The teacher's board, made from the rows the class's runs published: the counts, one table row per student,
and the export. Names are data: they go into cells, never into Markdown or HTML."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from symbreak.classroom.summary import BREAKERS, STILL_TIED, SYMMETRY_FIELDS
from symbreak.export import csv_text

TIED, SPLIT, DIVERGED, JOINED = "tied", "split", "diverged", "joined"
COLUMNS = ("name", "step", "state", "what broke the tie", "gap", "distinct neurons", "train loss",
           "train accuracy", *SYMMETRY_FIELDS)


def display_names(rows: Sequence[dict[str, Any]], anonymise: bool) -> list[str]:
    """Each row's name, or 'Student 1', 'Student 2', … in the order they joined when the board is anonymised."""
    return [f"Student {i + 1}" if anonymise else str(row.get("name", "")) for i, row in enumerate(rows)]


def state(row: dict[str, Any]) -> str:
    """'diverged', 'split' or 'tied' for a published row; 'joined' while it has published nothing."""
    if "step" not in row:
        return JOINED
    if row.get("diverged"):
        return DIVERGED
    return TIED if row.get("breaker") == STILL_TIED else SPLIT


def counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many joined, and how many of them are tied, split and diverged now."""
    states = [state(r) for r in rows]
    return {JOINED: len(rows), TIED: states.count(TIED), SPLIT: states.count(SPLIT), DIVERGED: states.count(DIVERGED)}


def _layers(values: Any) -> str:
    """Per-layer numbers as one cell: '0.012' for one hidden layer, '0.012 / 0' for two."""
    if not isinstance(values, list):
        return ""
    return " / ".join("–" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v) for v in values)


def answer_columns(rows: Sequence[dict[str, Any]], polls: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """Each poll round as a column of the students' answers (in the rows' order; '' for no answer). A row's
    "label" is the name its answers are listed under (the store marks a repeated name 'Ann (2)')."""
    labels = [str(r.get("label", r.get("name", ""))) for r in rows]
    return {f"{p['question']} (round {p['round']})": [p.get("answers", {}).get(label, "") for label in labels]
            for p in polls}


def table(rows: Sequence[dict[str, Any]], anonymise: bool = False,
          answers: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """One row per student, in the order they joined: the board's table and the CSV export (with a column per
    poll round when `answers` are given)."""
    names = display_names(rows, anonymise)
    records = []
    for name, row in zip(names, rows):
        settings = row.get("settings", {})
        records.append({
            "name": name, "step": row.get("step", 0), "state": state(row),
            "what broke the tie": row.get("breaker", ""), "gap": _layers(row.get("gap")),
            "distinct neurons": _layers(row.get("distinct")), "train loss": row.get("loss"),
            "train accuracy": row.get("accuracy"), **{key: settings.get(key, "") for key in SYMMETRY_FIELDS},
        })
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    for column, values in (answers or {}).items():
        frame[column] = values
    return frame


def series(rows: Sequence[dict[str, Any]], anonymise: bool = False) -> list[dict[str, Any]]:
    """Each published run's (step, gap) line for the board's chart: its label, group and points."""
    out = []
    for name, row in zip(display_names(rows, anonymise), rows):
        points = row.get("series") or []
        if points:
            out.append({"name": name, "breaker": row.get("breaker", STILL_TIED),
                        "steps": [p[0] for p in points], "gaps": [p[1] for p in points]})
    return out


def poll_summary(question: str, votes: dict[int, dict[str, str]], anonymise: bool) -> list[dict[str, Any]]:
    """One entry per round of a poll: its counts (answer -> students) and, unless anonymised, who answered what."""
    out = []
    for round_, answers in sorted(votes.items()):
        tally: dict[str, int] = {}
        for answer in answers.values():
            tally[answer] = tally.get(answer, 0) + 1
        entry: dict[str, Any] = {"question": question, "round": int(round_), "counts": tally}
        if not anonymise:
            entry["answers"] = dict(answers)
        out.append(entry)
    return out


def export_csv(rows: Sequence[dict[str, Any]], anonymise: bool = False,
               polls: Sequence[dict[str, Any]] = ()) -> str:
    """The board as CSV, one row per student with a column per poll round, formula cells neutralised. `polls` are
    poll_summary entries with their answers (made without anonymising: the names stay out of the file anyway)."""
    return csv_text(table(rows, anonymise, answer_columns(rows, polls)))


def export_json(code: str, rows: Sequence[dict[str, Any]], polls: Sequence[dict[str, Any]] = (),
                anonymise: bool = False) -> str:
    """The board as JSON: the class code, each student's row (the table's columns) and the polls."""
    students = table(rows, anonymise).astype(object).where(lambda f: f.notna(), None).to_dict(orient="records")
    return json.dumps({"code": code, "students": students, "polls": list(polls)}, indent=1, ensure_ascii=False)


def breaker_order(name: str) -> int:
    """The place of a group in the lesson's order (unknown groups last)."""
    return BREAKERS.index(name) if name in BREAKERS else len(BREAKERS)
