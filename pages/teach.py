"""Teach: start a class, show its code and QR code, watch every student's run on a live board, send a start,
lock controls, pause the class, open a student's run, and export the board.

The teacher key stays in this session and in the teacher's own bookmarkable link (`/teach?class=CODE&key=KEY`);
it is never sent to a student's page. Names are shown as text only, and hidden by "Anonymize".
"""

from __future__ import annotations

import io
from pathlib import Path

import segno
import streamlit as st

from pages import chrome, classroom, polls, session
from symbreak.classroom import board as B
from symbreak.classroom import summary as S
from symbreak.figures.board import board_figure
from symbreak.lessons.breakers import INTERVENTIONS, breaker_configs
from symbreak.serving import classes
from symbreak.settings import registry
from symbreak.settings.config import parse_hide
from symbreak.settings.presets import PRESETS, preset

chrome.route_through_app()

REFRESH_SECONDS = 1.0
GUIDE = Path(__file__).with_name("teaching_guide.md")
KEY_PARAM = "key"
MINE = "My Playground's settings"
RUNS, VOTE = "The runs", "The class vote"
_K = "teach."


def _teacher() -> tuple[str, str] | None:
    """(code, key) of the class this session teaches: from the session, or from the teacher's link."""
    code, key = st.session_state.get(_K + "code"), st.session_state.get(_K + "key")
    if code and key:
        return code, key
    link_code, link_key = st.query_params.get(classroom.CLASS_KEY), st.query_params.get(KEY_PARAM)
    db = classroom.store()
    if link_code and link_key and db is not None:
        try:
            if db.check_key(classes.normalise_code(link_code), link_key):
                _remember(classes.normalise_code(link_code), link_key)
                return st.session_state[_K + "code"], link_key
        except (classes.ClassError, classes.StoreDown):
            pass
        st.error("This teacher link does not open a class: it may have expired or been closed. Start a new class.",
                 icon=":material/error:")
    return None


def _remember(code: str, key: str) -> None:
    st.session_state[_K + "code"], st.session_state[_K + "key"] = code, key
    st.query_params.from_dict({classroom.CLASS_KEY: code, KEY_PARAM: key})


def _start_class() -> None:
    db = classroom.store()
    if db is None:
        st.session_state[_K + "error"] = "The class store cannot be reached: check SYMBREAK_STORE and try again."
        return
    try:
        made = db.new_class()
    except (classes.ClassError, classes.StoreDown) as exc:
        st.session_state[_K + "error"] = str(exc)
        return
    _remember(made.code, made.teacher_key)


def _end_class(code: str, key: str) -> None:
    try:
        classroom.store().close(code, key)
    except (AttributeError, classes.ClassError, classes.StoreDown):
        pass
    for part in ("code", "key"):
        st.session_state.pop(_K + part, None)
    st.query_params.clear()


def _base_url() -> str:
    """The address students open: this page's own host, as the teacher's browser reached it."""
    host = st.context.headers.get("Host", "localhost:8501")
    scheme = "https" if st.context.headers.get("X-Forwarded-Proto") == "https" else "http"
    return f"{scheme}://{host}"


def _join_panel(code: str, key: str) -> None:
    join_url = f"{_base_url()}/?{classroom.CLASS_KEY}={code}"
    left, right = st.columns([3, 2], vertical_alignment="center")
    with left:
        st.markdown(f"Join at **{join_url.split('://', 1)[1].split('/')[0]}** with the code")
        # The code is six letters of the class alphabet (never a user's text); spelled out for a screen reader.
        st.html(f"<div class='class-code' role='text' aria-label='Class code {' '.join(code)}'>{code}</div>")
        st.markdown("or scan the code with a phone's camera.")
        st.code(join_url, language=None)
        with st.expander("Your teacher link (keep it private: it controls the class)"):
            st.code(f"{_base_url()}/teach?{classroom.CLASS_KEY}={code}&{KEY_PARAM}={key}", language=None)
            st.caption("Bookmark it to come back to this board from another tab or after a restart.")
    with right:
        png = io.BytesIO()
        segno.make(join_url, error="m").save(png, kind="png", scale=12, border=2)
        st.image(png.getvalue(), caption=f"QR code of {join_url}", width=360)


def _send_start(code: str, key: str) -> None:
    """The start the teacher chose goes to every student, offered in one click or applied at once."""
    source = st.session_state.get(_K + "source", MINE)
    if source == MINE:
        config = session.RunSlot("playground").config or preset("constant")
        label = "your teacher's settings"
    elif source in PRESETS:
        config, label = preset(source), f"{source}: {PRESETS[source][0]}"
    else:
        index = [f"What breaks symmetry: {row.label}" for row in INTERVENTIONS].index(source)
        config, label = breaker_configs()[index], source
    state = classroom.store().state(code)
    start = {"id": int((state.get("start") or {}).get("id", 0)) + 1, "config": config.to_flat(), "label": label,
             "apply_now": bool(st.session_state.get(_K + "apply_now"))}
    classroom.store().set_state(code, key, start=start)
    st.toast(f"Sent to the class: {label}")


def _set(code: str, key: str, name: str) -> None:
    value = st.session_state.get(_K + name)
    if name == "hide":
        value = sorted(parse_hide(",".join(value or []))[0])
    classroom.store().set_state(code, key, **{name: value})


def _controls(code: str, key: str, state: dict) -> None:
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium", key="teach.controls"):
        st.toggle("Anonymize", key=_K + "anonymise", help="Show 'Student 1', 'Student 2' … instead of names "
                  "(for the projector).")
        st.session_state.setdefault(_K + "paused", bool(state.get("paused")))
        st.toggle("Pause the class", key=_K + "paused", on_change=_set, args=(code, key, "paused"),
                  help="Every student's Play and Step stop, with a message, until you switch this off.")
    with st.expander("Send a start to everyone", icon=":material/send:", expanded=False):
        # A form: the choice travels with the Send click, so the board's refresh each second never races it.
        with st.form("teach.send", border=False, enter_to_submit=False):
            sources = [MINE, *PRESETS, *(f"What breaks symmetry: {row.label}" for row in INTERVENTIONS)]
            st.selectbox("Start", sources, key=_K + "source",
                         help="Your own Playground's current settings, a preset, or a row of the lesson.")
            st.checkbox("Apply it at once (otherwise each student gets a 'Use it' button)", key=_K + "apply_now")
            st.form_submit_button("Send to the class", on_click=_send_start, args=(code, key), type="primary",
                                  icon=":material/send:")
        st.session_state.setdefault(_K + "hide", list(state.get("hide", [])))
        st.multiselect("Lock these controls for the class", sorted(registry.hideable()), key=_K + "hide",
                       on_change=_set, args=(code, key, "hide"),
                       help="They disappear from every student's sidebar, as a ?hide= link does.")


def _open_run(row: dict) -> None:
    """The selected student's run, replayed in this session's Playground at the same step."""
    slot = session.RunSlot("playground")
    try:
        config = S.replay(row["config"], 0).config
    except Exception as exc:  # noqa: BLE001  another student's data: a run that cannot start is a message
        st.session_state[_K + "error"] = f"That run cannot be opened here: {chrome.short(str(exc))}"
        return
    if slot.start(config) is None and row.get("step", 0):
        slot.trainer.step(int(row["step"]))
    st.session_state["class.go_board_run"] = True


def _board(code: str, key: str) -> None:
    """Counts, chart and table, or the class vote; and the exports: a fragment refreshed every second."""
    db = classroom.store()
    try:
        rows = db.rows(code, key) if db else None
        state = db.state(code) if db else {}
    except (classes.StoreDown, classes.ClassError):
        rows = None
    if rows is None:
        st.warning("The class board cannot be reached: retrying every second.", icon=":material/cloud_off:")
        return
    anonymise = bool(st.session_state.get(_K + "anonymise"))
    found = polls.read(code, key)
    if st.session_state.get(_K + "view") == VOTE:
        polls.poll_panel(code, key, rows, state, found)
    else:
        _runs(rows, anonymise)
    _downloads(code, rows, found.summaries() if found else [], anonymise)


def _runs(rows: list[dict], anonymise: bool) -> None:
    """The class's runs: the counts, every student's gap against step, and the table that opens a run."""
    counts = B.counts(rows)
    with st.container(horizontal=True, gap="large", key="teach.counts"):
        for label, value in counts.items():
            st.metric(label.capitalize(), value, width="content")
    chart, table = _drawn(rows, anonymise)
    chrome.show_figure(chart, key="teach.chart")
    picked = st.dataframe(table, key="teach.table", on_select="rerun", selection_mode="single-row",
                          hide_index=True, width="stretch")
    chosen = picked.selection.rows if picked else []
    runs = [i for i, row in enumerate(rows) if "config" in row]
    if not runs:
        return
    if chosen and chosen[0] in runs:  # a row clicked in the table is the one offered
        st.session_state[_K + "open"] = chosen[0]
    with st.container(horizontal=True, vertical_alignment="bottom", key="teach.open_row"):
        index = st.selectbox("Open a student's run", runs, key=_K + "open",
                             format_func=lambda i: f"{table.iloc[i]['name']} (step {rows[i].get('step', 0):,})",
                             help="Click a row of the table, or pick a name here: the run is replayed exactly, "
                                  "to the same step, in your own Playground.")
        st.button("Open in my Playground", on_click=_open_run, args=(rows[index],), icon=":material/science:")


def _drawn(rows: list[dict], anonymise: bool) -> tuple[str, object]:
    """The board's chart (as JSON) and table, made again only when a row changed since the last refresh: a board
    left open on the projector between two presses costs its refresh and nothing more."""
    seen = (anonymise, tuple((r.get("label"), r.get("joined_at"), r.get("updated_at")) for r in rows))
    kept = st.session_state.get(_K + "drawn")
    if kept is None or kept[0] != seen:
        kept = (seen, board_figure(B.series(rows, anonymise), S.BREAKERS).to_json(), B.table(rows, anonymise))
        st.session_state[_K + "drawn"] = kept
    return kept[1], kept[2]


def _downloads(code: str, rows: list[dict], summaries: list[dict], anonymise: bool) -> None:
    """The board (and, once the vote view was opened, its polls) as CSV and JSON."""
    shown = [{k: v for k, v in e.items() if k != "answers"} for e in summaries] if anonymise else summaries
    with st.container(horizontal=True, key="teach.downloads"):  # the files are made when a button is clicked
        st.download_button("Board as CSV", lambda: B.export_csv(rows, anonymise, summaries), f"class-{code}.csv",
                           "text/csv", icon=":material/download:")
        st.download_button("Board as JSON", lambda: B.export_json(code, rows, shown, anonymise),
                           f"class-{code}.json", "application/json", icon=":material/download:")


def _guide() -> None:
    """The teaching guide: a 50-minute class step by step, to read here or download as Markdown."""
    with st.expander("Teaching guide: one 50-minute class, step by step", icon=":material/menu_book:"):
        text = GUIDE.read_text(encoding="utf-8")
        st.download_button("Download the guide (Markdown)", text, "symbreak-teaching-guide.md", "text/markdown",
                           icon=":material/download:")
        st.markdown(text.split("\n", 1)[1])


def main() -> None:
    st.html("<style>.class-code {font-size: 5.5rem; line-height: 1.1; font-weight: 700; letter-spacing: 0.5rem;"
            " font-family: 'Source Code Pro', monospace; color: #0b3d91;}</style>")
    if st.session_state.pop("class.go_board_run", False):
        st.switch_page("pages/playground.py")
    st.title("Teach a class")
    message = st.session_state.pop(_K + "error", "")
    if message:
        st.error(chrome.plain(message), icon=":material/error:")
    teaching = _teacher()
    _guide()
    if teaching is None:
        st.markdown("Start a class and every student who joins appears on a live board: who is still tied, who "
                    "split, and what broke the tie. Students join with a six-character code, a link or a QR code.")
        st.button("Start a class", on_click=_start_class, type="primary", icon=":material/co_present:")
        return
    code, key = teaching
    _join_panel(code, key)
    try:
        state = classroom.store().state(code)
    except (AttributeError, classes.StoreDown, classes.ClassError):
        state = {}
    _controls(code, key, state)
    polls.pace_controls(code, key)
    st.segmented_control("Show", [RUNS, VOTE], key=_K + "view", default=RUNS, required=True,
                         help="The students' runs, or the class vote on a lesson's question.")
    st.fragment(_board, run_every=REFRESH_SECONDS)(code, key)
    st.button("End the class", on_click=_end_class, args=(code, key), icon=":material/logout:",
              help="Closes the class: the board and its rows are deleted from the store.")


main()
