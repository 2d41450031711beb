"""The lesson pages under Streamlit's AppTest (no browser): each opens on a working default, its
buttons work, the outcomes it shows are the measured ones, and its Playground link carries its config."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import torch
from streamlit.testing.v1 import AppTest

from symbreak import Config
from symbreak.lessons import breakers, gradients, no_hidden, split_speed

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the pages import `pages.chrome`, as they do under `streamlit run app.py`
    sys.path.insert(0, str(ROOT))
TIMEOUT = 60
torch.set_num_threads(1)  # as app.py does: tiny tensors, extra threads only cost


def page_path(name: str) -> str:
    """The file of the page whose URL path is `name` (lesson_wasted is pages/lessons/wasted.py, compare pages/compare.py)."""
    return f"pages/lessons/{name.removeprefix('lesson_')}.py" if name.startswith("lesson_") else f"pages/{name}.py"


def page(name: str, timeout: float = TIMEOUT, **query: str) -> AppTest:
    """The lesson page `name` (its URL path) run on its own (outside the app), with the URL's query, and no exception."""
    at = AppTest.from_file(str(ROOT / page_path(name)), default_timeout=timeout)
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def click(at: AppTest, label: str) -> AppTest:
    [button] = [b for b in at.button if b.label == label]
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def links(at: AppTest) -> dict[str, Config]:
    """Label → config of every Playground link (plain links: the page runs outside the app)."""
    found = {}
    for block in at.markdown:
        for label, url in re.findall(r"\[([^\]]+)\]\((/\?[^)]*)\)", block.value):
            assert urlsplit(url).path == "/"
            found[label] = Config.from_flat(dict(parse_qsl(urlsplit(url).query)))
    return found


def text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


# ------------------------------------------------------------------ lesson 1
def test_gradients_page_opens_on_the_first_example() -> None:
    at = page("lesson_gradients")
    table = at.dataframe[0].value
    assert list(table.index) == list(gradients.TABLE_ORDER_221)
    assert table.loc["w1", "w5 or w6"] == "0.8" and table.loc["w3", "w5 or w6"] == "-0.4"
    assert "w5 ≠ w6" in text(at)
    trainer = at.session_state["lesson1_trainer"]
    assert links(at)["Open this network in the Playground"] == trainer.config == gradients.config_221()


def test_gradients_page_tie_then_step_keeps_the_neurons_equal() -> None:
    at = click(page("lesson_gradients"), "Tie the neurons")
    assert at.number_input(key="lesson1_w6").value == at.number_input(key="lesson1_w5").value
    assert "Nothing is highlighted" in at.success[0].value
    click(at, "Step 10")
    trainer = at.session_state["lesson1_trainer"]
    assert trainer.step_count == 10
    now = gradients.values_221(trainer.parameters())
    assert now["w1"] == now["w3"] and now["w2"] == now["w4"] and now["w5"] == now["w6"]
    table = at.dataframe[0].value
    assert table.loc["w1", gradients.MEAN_GRADIENT] == table.loc["w3", gradients.MEAN_GRADIENT]
    assert "step 10" in at.subheader[0].value


def test_gradients_page_untie_outgoing_then_step_splits_them() -> None:
    at = click(click(page("lesson_gradients"), "Tie the neurons"), "Untie only the outgoing weights")
    assert not at.success
    assert at.number_input(key="lesson1_w6").value == pytest.approx(
        at.number_input(key="lesson1_w5").value - gradients.UNTIE_GAP)
    click(at, "Step")
    now = gradients.values_221(at.session_state["lesson1_trainer"].parameters())
    assert now["w1"] != now["w3"]
    table = at.dataframe[0].value
    assert table.loc["w1", "σ'(z)"] != table.loc["w3", "σ'(z)"]
    click(at, "Restart")
    assert at.session_state["lesson1_trainer"].step_count == 0


def test_gradients_page_edit_a_weight_and_pick_a_sample() -> None:
    at = page("lesson_gradients")
    at.number_input(key="lesson1_w1").set_value(1.5).run()
    at.number_input(key="lesson1_sample").set_value(7).run()
    assert not at.exception
    trainer = at.session_state["lesson1_trainer"]
    assert gradients.values_221(trainer.parameters())["w1"] == 1.5
    table = at.dataframe[0].value
    assert table.loc["w1", "value"] == "1.5"
    assert float(table.loc["w1", "input"]) == pytest.approx(trainer.dataset.x_train[6, 0], rel=1e-3)


# ------------------------------------------------------------------ lesson 2
def test_breakers_page_shows_the_measured_matrix() -> None:
    at = page("lesson_breakers")
    table = at.dataframe[0].value.set_index("intervention")
    assert len(table) == 14 and (table["distinct neurons"] > 1).sum() == 6
    for label in ("mini-batches of 32, shuffled", "momentum 0.9", "Adam", "weight decay 0.01", "zero init, relu"):
        assert table.loc[label, "outcome"] == breakers.TIED and table.loc[label, "gap"] == 0
    for label in ("dropout 0.1", "dropout 0.5", "random init (Xavier)", "perturbation ε = 1e-6",
                  "different biases only", "different outgoing weights only"):
        assert table.loc[label, "outcome"] == breakers.SPLIT and table.loc[label, "gap"] > 0
    assert "Still identical to the last bit:** nothing (constant 0.5), mini-batches" in text(at)
    assert "Notice what does **not** help" in text(at)
    assert f"× {breakers.BREAKER_STEPS} steps" in at.caption[0].value
    at.selectbox(key="lesson2_open").set_value("dropout 0.5").run()
    [config] = links(at).values()
    assert config == breakers.breaker_base().with_flat(dropout="0.5")
    at.slider(key="lesson2_steps").set_value(100).run()
    assert not at.exception and "× 100 steps" in at.caption[0].value


# The main column's width in a 1400×1000 window with the sidebar open (Chromium, theme.baseFontSize 17).
TABLE_ROOM = 909


@pytest.mark.parametrize("name", ["lesson_gradients", "lesson_breakers"])
def test_lesson_tables_fit_the_page_at_projector_size(name: str) -> None:
    """Every shown column has a pixel width and together they fit the page, so none is cut off at the right."""
    at = page(name)
    frame = at.dataframe[0]
    config = json.loads(frame.proto.columns)
    shown = {column: c for column, c in config.items() if not c.get("hidden")}
    assert set(frame.value.columns) <= set(shown), "a column without a width is sized to its longest cell"
    widths = [c.get("width") for c in shown.values()]
    assert all(isinstance(w, int) for w in widths), shown
    assert sum(widths) <= TABLE_ROOM, widths


def test_breakers_table_wraps_the_why_sentences() -> None:
    """Streamlit wraps cell text only in rows taller than 4rem; otherwise the "why" sentences are cut."""
    base = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"].get("baseFontSize", 16)
    assert page("lesson_breakers").dataframe[0].proto.row_height > 4 * base


# ------------------------------------------------------------------ lesson 3
def test_no_hidden_page_shows_rows_split_and_neurons_tied() -> None:
    at = page("lesson_no_hidden")
    shown = text(at)
    assert "3 class rows, 3 distinct" in shown and "4 hidden neurons, 1 distinct" in shown
    assert re.search(r"Largest column sum over all steps: \d\.\de-1[5-9]", at.caption[0].value)
    softmax, hidden = links(at).values()
    assert (softmax, hidden) == no_hidden.no_hidden_configs()
    at.radio(key="lesson3_activation").set_value("tanh").run()
    assert not at.exception and "tanh(0) = 0" in text(at)


# ------------------------------------------------------------------ lesson 4
def test_split_speed_page_shows_split_times_growing_as_epsilon_shrinks() -> None:
    at = page("lesson_split_speed")
    table = at.dataframe[0].value
    steps = [int(s) for s in table["step of split"]]
    assert steps == sorted(steps, reverse=True) and len(set(steps)) == 8
    assert "doubles every" in text(at)
    [config] = links(at).values()
    assert config == split_speed.split_config().with_flat(perturb=1e-4)
    at.select_slider(key="lesson4_lr").set_value(3.0).run()
    assert not at.exception
    assert "did not reach" in at.info[0].value


# ------------------------------------------------------------------ lesson 5
def test_compare_page_steps_and_shows_both_outcomes() -> None:
    at = page("compare")
    click(at, "Step 10")
    summary = at.dataframe[0].value.set_index("configuration")
    assert summary.loc["constant", "distinct neurons"] == 1 and summary.loc["constant-dropout", "distinct neurons"] == 8
    assert "trained as one batched run" in text(at)
    assert "8 neurons, 1 distinct: identical to the last bit" in text(at)
    assert set(links(at)) == {"Open constant in the Playground", "Open constant-dropout in the Playground"}
    click(at, "Reset")
    assert "**Step 0**" in text(at)


def test_compare_page_explains_bad_choices() -> None:
    at = page("compare")
    at.multiselect(key="compare_presets").set_value(["constant"]).run()
    assert "at least two" in at.info[0].value
    at.multiselect(key="compare_presets").set_value(["constant", "tied-221"]).run()
    at.selectbox(key="compare_dataset").set_value("demand").run()
    assert not at.exception
    assert "cannot run on demand" in at.error[0].value
    at.multiselect(key="compare_presets").set_value(["constant", "softmax-zero"]).run()
    at.selectbox(key="compare_dataset").set_value("coffee").run()
    assert not at.exception and "2 batched groups" in text(at)
    assert "this network has no hidden layer" in at.info[0].value


# ------------------------------------------------------------------ inside the app
def test_lessons_inside_the_app_link_to_the_playground_page() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page("pages/lessons/no_hidden.py").run()
    assert not at.exception
    link = at.get("page_link")[0].proto
    assert link.page == "" and link.page_script_hash, "the Playground is app.py's default page, at /"
    assert Config.from_flat(dict(parse_qsl(link.query_string))) == no_hidden.no_hidden_configs()[0]


def test_a_lesson_link_carries_the_teachers_hide_list_and_projector_mode() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update({"hide": "dropout,optimizer", "present": "1"})
    at.run()
    at.switch_page("pages/lessons/no_hidden.py").run()
    assert not at.exception
    query = dict(parse_qsl(at.get("page_link")[0].proto.query_string))
    assert query["hide"] == "dropout,optimizer" and query["present"] == "1"
    assert Config.from_flat({k: v for k, v in query.items() if k not in ("hide", "present")}) == \
        no_hidden.no_hidden_configs()[0]
