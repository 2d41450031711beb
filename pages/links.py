"""A run's settings in the page's address: links in, the address kept in step, and the way out of a bad link.

A link is data: `config_from_query` never raises; a value over its length
limit is refused unread, a bad one skipped with a message naming it. The
address carries the run's non-default settings and the page-wide keys
(`present`, `hide`, `predict`) that every rewrite keeps.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from pages import classroom
from pages.chrome import PREDICT_KEY, PRESENT_KEY, failure, plain
from pages.session import RunSlot
from symbreak.settings.config import FLAT_FIELDS, MAX_VALUE_CHARS, Config, parse_hide
from symbreak.settings.presets import preset
from symbreak.settings.registry import HIDE_KEY, SETTINGS
from symbreak.settings.values import quote

PRESET_KEY = "preset"
# A link's values are refused unread over their setting's limit (MAX_VALUE_CHARS; more for init_weights and mask);
# its whole query over this, what the server accepts in a request line, so the page never parses or echoes megabytes.
MAX_LINK_CHARS = 131_072
FRESH_LABEL = "Start fresh"
DEFAULT_FLAT = Config().to_flat()


def query_for_config(config: Config) -> dict[str, str]:
    """The config's non-default fields as flat strings: what a link needs to reproduce the run."""
    return {k: v for k, v in config.to_flat().items() if v != DEFAULT_FLAT[k]}


def _link_limit(key: str) -> int:
    return SETTINGS[key].max_chars if key in SETTINGS else MAX_VALUE_CHARS


def config_from_query(params: Mapping[str, str]) -> tuple[Config | None, list[str]]:
    """A config from URL parameters (over `?preset=NAME` if given); every bad parameter is skipped and reported.

    Nothing a link holds can raise: a value over its length limit is refused
    unread, and any failure to parse or validate one becomes a message naming
    it. The config is None when no parameter could be used.
    """
    size = sum(len(str(k)) + len(str(v)) for k, v in params.items())
    if size > MAX_LINK_CHARS:
        return None, [f"Link ignored: its settings hold {size:,} characters, more than the {MAX_LINK_CHARS:,} "
                          "a link can carry. Use the controls, or start fresh"]
    errors: list[str] = []
    config, used = Config(), False
    for key in [k for k in (PRESET_KEY, *FLAT_FIELDS) if k in params]:
        value = str(params[key])
        if key == PRESET_KEY and not value:
            continue
        if len(value) > _link_limit(key):
            errors.append(f"Link setting {key} ignored: {len(value):,} characters, more than the "
                          f"{_link_limit(key):,} it may have")
            continue
        try:
            config = preset(value) if key == PRESET_KEY else Config.from_flat({key: value}, base=config, strict=False)
            used = True
        except Exception as exc:  # a link is data: whatever it makes fail is a message, never a traceback
            reason = failure(key, value, exc)  # names the setting, and quotes the value where it says what was wrong
            errors.append(f"Link setting ignored: {reason}" if reason.startswith(f"{key}:")
                          else f"Link setting {key}={quote(value)} ignored: {reason}")
    return (config if used else None), errors


def _config_params() -> dict[str, str]:
    """The URL's config parameters; one dict of every key when the query is over MAX_LINK_CHARS (then refused)."""
    every = {k: st.query_params[k] for k in st.query_params}
    if sum(len(k) + len(v) for k, v in every.items()) > MAX_LINK_CHARS:
        return every
    return {k: v for k, v in every.items() if k in FLAT_FIELDS or k == PRESET_KEY}


def adopt_query(slot: RunSlot) -> None:
    """Start the run the URL describes: on the first visit, or when the URL was changed from outside.

    The URL the app last wrote is remembered, so only a link or an edited
    address starts a run; an empty URL keeps the session's run (coming back
    from another page), and so does a link of which nothing can be used. Bad
    parameters are skipped with a message; if the config cannot start at all,
    the session's run (or, on a first visit, the defaults) goes on and the message stays.
    """
    params = _config_params()
    current = slot.config
    if current is not None and (not params or params == st.session_state.get(slot.key("url"))):
        return
    config, errors = config_from_query(params)
    if config is None:  # nothing in the link could be used
        if current is None:
            slot.start(slot.default, announce=False)
    elif current is None or config != current:
        message = slot.start(config, announce=current is not None)
        if message:
            errors.append(f"Link settings could not start: {message}")
            if current is None:
                slot.start(slot.default, announce=False)
    slot.set_errors(errors)


def carried_params() -> dict[str, str]:
    """The URL's page-wide keys that every link and rewrite of the URL keeps: projector mode, the hide list,
    whether lessons ask their question first, and the class a student is in (with their own id)."""
    keys = (PRESENT_KEY, HIDE_KEY, PREDICT_KEY, classroom.CLASS_KEY, classroom.ME_KEY)
    return {key: st.query_params[key] for key in keys if key in st.query_params}


def sync_query(slot: RunSlot) -> None:
    """Make the URL hold exactly the run's non-default fields (keeping `present`, `hide` and `predict`), and remember it."""
    desired = query_for_config(slot.config)
    st.session_state[slot.key("url")] = dict(desired)
    desired.update(carried_params())
    current = {k: st.query_params[k] for k in st.query_params}
    if current != desired:
        st.query_params.from_dict(desired)


# ------------------------------------------------------------------ errors, and leaving a bad link
def _start_fresh(slot_name: str, default: Config) -> None:
    """Leave a bad link or upload: no settings in the URL (a teacher's projector mode and a usable hide list stay),
    no uploaded file, the page's default run."""
    kept = carried_params()
    if HIDE_KEY in kept and parse_hide(kept[HIDE_KEY])[1]:
        del kept[HIDE_KEY]
    st.query_params.from_dict(kept)
    slot = RunSlot(slot_name, default)
    st.session_state.pop(slot.key("upload"), None)
    st.session_state.pop(slot.key("url"), None)
    slot.start(default)


def show_errors(slot: RunSlot) -> None:
    """The slot's pending error messages, each in a red box (escaped: a user's value shows as typed), and a
    'Start fresh' button that leaves a bad link in one click."""
    if not slot.errors:
        return
    for message in slot.errors:
        st.error(plain(message), icon=":material/error:")
    st.button(FRESH_LABEL, key=slot.key("fresh"), on_click=_start_fresh, args=(slot.name, slot.default),
              icon=":material/restart_alt:", help="Clear the settings in the address and start the default run.")
