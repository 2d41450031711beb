"""The Playground page through Streamlit's AppTest (no browser): controls, URL, errors, present mode.

Each test opens a fresh session on `app.py` (the default page is the
Playground) and checks what the page shows and what it keeps in session
state under the "playground." keys. Play and a long Step N are driven
through the page's `Playback` (`playground.playback()`, kept under
"playground.playback"), as the chart's reports drive it in a browser.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from symbreak import Config, preset

COMPONENT = "symbreak_chart"  # the chart component of pages/charts.py

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 60
TIED_221 = '{"layers":[{"weight":[[0.5,-0.3],[0.5,-0.3]],"bias":[0,0]},{"weight":[[0.8,0.8]],"bias":[0]}]}'


# The sidebar sections that start closed and draw their controls only when opened.
SECTIONS = ("playground.x.data", "playground.x.arithmetic", "playground.x.tables", "playground.x.download")


def open_app(**params: str) -> AppTest:
    """A new session on the app with these URL parameters, after its first run (which must not fail), with every
    sidebar section open."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.run()
    assert_clean(at)
    playback(at).slice_seconds = 3600.0  # a Step N is one run however loaded the machine (a test may slice it)
    for key in SECTIONS:
        at.session_state[key] = True
    at.run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def state(at: AppTest, part: str):
    return at.session_state[f"playground.{part}"]


def config(at: AppTest) -> Config:
    return state(at, "config")


def step_count(at: AppTest) -> int:
    return state(at, "trainer").step_count


def playback(at: AppTest):
    """The session's Playback of the page (`pages.playground.playback()`)."""
    return state(at, "playback")


def drawn(at: AppTest, number: int | None = None) -> AppTest:
    """What the live chart's report that it started drawing batch `number` (the one in flight) does."""
    playback(at).on_drawn(playback(at).batch.number if number is None else number)
    at.run()
    assert_clean(at)
    return at


def headline(at: AppTest) -> str:
    return at.markdown[0].value


def shown(markdown: str) -> str:
    """The text Markdown draws for an escaped message: its backslash escapes undone."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def new_run_note(at: AppTest) -> str:
    """The notice of what the last change did ('New run: …'), shown in the line under the headline."""
    found = re.search(r":orange-badge\[:material/restart_alt: ((?:\\.|[^\]])*)\]", at.markdown[1].value)
    return shown(found.group(1)) if found else ""


def buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=f"playground.{key}").click().run()
    assert_clean(at)
    return at


def charts(at: AppTest) -> list:
    """The plotly charts on the page (drawn by the app's chart component)."""
    return [e for e in at.get("bidi_component") if e.proto.component_name == COMPONENT]


def errors(at: AppTest) -> list[str]:
    return [shown(e.value) for e in at.error]


# ------------------------------------------------------------------ first screen and controls
def test_first_screen_is_the_default_demo():
    at = open_app()
    assert config(at) == preset("constant")
    assert "8 neurons, 1 distinct: identical to the last bit" in headline(at)
    assert "Press Play" in at.markdown[1].value
    assert at.metric[0].value == "1 of 8"
    assert buttons(at)[:5] == ["Step 1", "Step 100", "Play", "Reset", "New random seed"]
    assert dict(at.query_params) == {} and not errors(at)
    assert len(charts(at)) == 3  # the live chart, the loss and the open tab's chart


def test_closed_sidebar_sections_draw_their_controls_only_when_opened():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert_clean(at)
    drawn = lambda: {w.key for w in (*at.slider, *at.number_input, *at.selectbox, *at.radio)}  # noqa: E731
    closed = drawn()
    assert "playground.w.noise" not in closed and "playground.w.arithmetic" not in closed
    assert not at.file_uploader and not at.data_editor and not at.get("download_button")
    at.session_state["playground.x.data"] = True
    at.session_state["playground.x.arithmetic"] = True
    at.run()
    assert drawn() - closed == {"playground.w.n_samples", "playground.w.noise", "playground.w.test_fraction",
                                "playground.w.dtype", "playground.w.arithmetic", "playground.w.tol"}
    assert at.file_uploader
    at.session_state["playground.x.tables"] = True
    at.session_state["playground.x.download"] = True
    at.run()
    assert_clean(at)
    assert len(at.data_editor) == 2 and len(at.get("download_button")) == 3
    at.session_state["playground.x.data"] = False
    at.run()
    assert "playground.w.noise" not in drawn() and config(at) == preset("constant")


def test_step_one_and_step_n():
    at = open_app()
    click(at, "step1")
    assert step_count(at) == 1 and "Step 1 ·" in at.markdown[1].value
    at.number_input(key="playground.n").set_value(7).run()
    assert "Step 7" in buttons(at)
    click(at, "stepn")
    assert step_count(at) == 8
    assert at.slider(key="playground.view_step").value == 8
    assert at.metric[0].value == "1 of 8"


def test_a_long_step_n_trains_in_slices_under_a_progress_bar_and_stops():
    at = open_app()
    playback(at).slice_seconds = 0.0  # every slice is one step: each drawn batch asks for one more
    playback(at).watchdog_seconds = 3600.0  # however slow this machine, no run finds the batch stalled
    at.number_input(key="playground.n").set_value(4).run()
    click(at, "stepn")
    assert step_count(at) == 1
    assert at.get("progress")[0].proto.text == "Training: step 1 of 4"
    assert at.button(key="playground.stepn").disabled and at.button(key="playground.step1").disabled
    assert len(charts(at)) == 2, "the open tab waits for the steps: only the live chart and the loss are drawn"
    at.run()  # a rerun nobody asked for (the watchdog's tick, while the batch is on its way) trains nothing
    assert step_count(at) == 1
    drawn(at)  # the next slice: the chart asks for it as it draws this one
    assert step_count(at) == 2 and at.get("progress")[0].proto.text == "Training: step 2 of 4"
    click(at, "stop")
    assert step_count(at) == 2 and not at.get("progress"), "Stop keeps the steps made so far"
    assert not at.button(key="playground.stepn").disabled and len(charts(at)) == 3
    assert at.slider(key="playground.view_step").value == 2
    click(at, "stepn")
    for _ in range(3):
        drawn(at)
    assert step_count(at) == 6 and not at.get("progress"), "the last slice ends the Step N"
    assert at.slider(key="playground.view_step").value == 6


def test_reset_keeps_the_starting_weights():
    at = open_app(init="xavier_uniform")
    start = state(at, "trainer").history.params[0].clone()
    click(at, "stepn")
    click(at, "reset")
    trainer = state(at, "trainer")
    assert trainer.step_count == 0 and bool((trainer.theta == start).all())


def test_new_random_seed_starts_a_new_run():
    at = open_app()
    click(at, "stepn")
    click(at, "seed")
    assert config(at).seed != 0 and step_count(at) == 0
    assert at.query_params["seed"] == str(config(at).seed)
    assert new_run_note(at).startswith("New run: seed 0 →")
    assert "Press Play" in at.markdown[1].value
    click(at, "step1")
    assert new_run_note(at) == "" and "Press Play" not in at.markdown[1].value  # said once, until the first step


def live_chart(at: AppTest) -> dict:
    """The data the live chart element carries (one JSON document, sent as bytes): its figures and batch number."""
    return json.loads(charts(at)[0].proto.bytes)


def test_play_and_pause():
    at = open_app()
    playback(at).watchdog_seconds = 3600.0  # however slow this machine, no run finds the batch stalled
    click(at, "play")
    assert "Pause" in buttons(at) and at.button(key="playground.step1").disabled
    assert step_count(at) == 30  # one batch: 6 frames of the default 5 steps
    sent = live_chart(at)
    assert sent["batch"] == 1 and len(sent["figures"]) == 6
    steps_drawn = [f["layout"]["shapes"][0]["x0"] for f in sent["figures"]]
    assert steps_drawn == [5, 10, 15, 20, 25, 30]  # the step marker of each frame
    at.run()  # a rerun the browser did not ask for sends the same batch again
    assert step_count(at) == 30 and live_chart(at)["batch"] == 1
    drawn(at, 1)  # the chart reports it started drawing batch 1
    assert step_count(at) == 60 and live_chart(at)["batch"] == 2
    click(at, "play")
    assert "Play" in buttons(at) and not at.button(key="playground.step1").disabled
    assert live_chart(at)["batch"] is None and len(live_chart(at)["figures"]) == 1
    drawn(at, 2)  # a late report after Pause changes nothing
    assert step_count(at) == 60


def test_steps_per_frame_set_how_far_each_play_frame_goes():
    at = open_app()
    at.number_input(key="playground.per_frame").set_value(2).run()
    click(at, "play")
    steps_drawn = [f["layout"]["shapes"][0]["x0"] for f in live_chart(at)["figures"]]
    assert steps_drawn == [2, 4, 6, 8, 10, 12] and step_count(at) == 12


def test_look_back_slider_shows_an_earlier_step():
    at = open_app(dropout="0.2")
    click(at, "stepn")
    assert at.metric[0].value == "8 of 8"
    at.slider(key="playground.view_step").set_value(0).run()
    assert_clean(at)
    assert at.markdown[1].value.startswith(":gray[Step 0 ·") and at.metric[0].value == "1 of 8"
    click(at, "step1")  # moved back, the slider stays where it was put
    assert at.slider(key="playground.view_step").value == 0 and step_count(at) == 101
    at.slider(key="playground.view_step").set_value(101).run()
    click(at, "step1")  # at the end again, it follows training
    assert at.slider(key="playground.view_step").value == 102


@pytest.mark.parametrize("tab", ["Weight space", "Distances", "Gradients", "Network", "Input plane"])
def test_every_tab_draws(tab):
    at = open_app(hidden="4,3", init="xavier_uniform")
    click(at, "stepn")
    at.session_state["playground.tab"] = tab
    at.segmented_control(key="playground.layer").set_value(1).run()
    assert_clean(at)
    assert len(charts(at)) >= 3 and not errors(at)


def test_no_hidden_layer_shows_the_output_units():
    at = open_app(preset="softmax-zero")
    click(at, "stepn")
    assert "3 neurons, 3 distinct" in headline(at)
    assert "output units" in at.markdown[1].value


# ------------------------------------------------------------------ sidebar: every control starts a new run
# (widget kind, control, new value, flat field, the field's flat value afterwards); the changes accumulate.
CHANGES = [
    ("selectbox", "dataset", "xor", "dataset", "xor"),
    ("number_input", "n_samples", 200, "n_samples", "200"),
    ("slider", "noise", 0.3, "noise", "0.3"),
    ("slider", "test_fraction", 0.1, "test_fraction", "0.1"),
    ("number_input", "layers", 2, "hidden", "8,8"),
    ("number_input", "width", 3, "hidden", "3,3"),
    ("selectbox", "activation", "tanh", "activation", "tanh"),
    ("number_input", "init_param", 0.25, "init", "constant:0.25"),
    ("selectbox", "init_scheme", "he_normal", "init", "he_normal"),
    ("selectbox", "bias_scheme", "constant", "bias_init", "constant:0.5"),
    ("number_input", "perturb", 0.001, "perturb", "0.001"),
    ("slider", "dropout", 0.5, "dropout", "0.5"),
    ("selectbox", "optimizer", "adam", "optimizer", "adam"),
    ("number_input", "lr", 0.3, "lr", "0.3"),
    ("number_input", "batch_size", 32, "batch_size", "32"),
    ("number_input", "weight_decay", 0.01, "weight_decay", "0.01"),
    ("number_input", "seed", 7, "seed", "7"),
    ("selectbox", "dtype", "float64", "dtype", "float64"),
    ("radio", "arithmetic", "blas", "arithmetic", "blas"),
    ("number_input", "tol", 0.0, "tol", "0.0"),
    ("selectbox", "preset", "random", "init", "xavier_uniform"),
]


def test_every_control_starts_a_new_run_and_updates_the_url():
    at = open_app()
    for kind, control, value, field, expected in CHANGES:
        version = state(at, "version")
        click(at, "step1")
        getattr(at, kind)(key=f"playground.w.{control}").set_value(value).run()
        assert_clean(at)
        assert not errors(at), (control, errors(at))
        assert state(at, "version") == version + 1, control
        assert step_count(at) == 0, control
        assert new_run_note(at).startswith("New run:"), control
        assert config(at).to_flat()[field] == expected, control
        assert at.query_params.get(field) == expected, control


def test_url_parameters_become_the_config_and_the_controls():
    at = open_app(lr="0.5", hidden="4", dropout="0.2", init="zeros", seed="3")
    c = config(at)
    assert (c.train.lr, c.model.hidden, c.train.dropout, c.init.weight, c.seed) == (0.5, (4,), 0.2, "zeros", 3)
    assert at.number_input(key="playground.w.lr").value == 0.5
    assert at.number_input(key="playground.w.width").value == 4
    assert at.selectbox(key="playground.w.init_scheme").value == "zeros"
    assert dict(at.query_params) == {"lr": "0.5", "hidden": "4", "dropout": "0.2", "init": "zeros", "seed": "3"}


def test_a_preset_link_and_typed_in_weights():
    at = open_app(preset="tied-221")
    assert config(at) == preset("tied-221")
    assert "2 neurons, 1 distinct" in headline(at)
    assert at.query_params["init_weights"] == config(at).init.explicit and "preset" not in at.query_params
    key = at.data_editor[0].key
    at.session_state[key] = {"edited_rows": {1: {"temperature (°C)": 0.7}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert_clean(at)
    assert '"weight":[[0.5,-0.3],[0.7,-0.3]]' in config(at).init.explicit
    assert "2 neurons, 2 distinct" in headline(at)
    assert new_run_note(at) == "New run: initial weights typed in"


def test_an_impossible_link_value_gets_a_message():
    at = open_app(lr="-3", dropout="0.2", hidden="abc")
    messages = errors(at)
    assert any("ignored: lr:" in m and "learning rate" in m for m in messages), messages
    assert any("ignored: hidden:" in m for m in messages), messages
    assert config(at).train.lr == 1.0 and config(at).train.dropout == 0.2
    assert dict(at.query_params) == {"dropout": "0.2"}
    click(at, "step1")
    assert step_count(at) == 1
    assert not errors(at)  # read: the first step gives their room back to the views


def test_link_weights_of_the_wrong_shape_fall_back_to_the_default():
    at = open_app(hidden="3", init_weights=TIED_221)
    assert any("could not start" in m and "init_weights" in m for m in errors(at)), errors(at)
    assert config(at) == preset("constant")


# ------------------------------------------------------------------ data: CSV uploads through the test seam
def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.session_state["playground.upload_request"] = (name, data)
    at.run()
    assert_clean(at)
    return at


def test_a_good_csv_becomes_the_dataset():
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{int(i % 7 > 3)}" for i in range(60))
    at = open_app()
    upload(at, "mine.csv", f"a,b,label\n{rows}\n".encode())
    assert config(at).data.dataset == "csv" and config(at).data.path == "mine.csv"
    assert state(at, "trainer").dataset.feature_names == ("a", "b")
    assert at.query_params["dataset"] == "csv" and not errors(at)
    click(at, "stepn")
    assert step_count(at) == 100


def test_a_bad_csv_gets_its_message_and_the_run_stays():
    at = open_app()
    click(at, "stepn")
    upload(at, "bad.csv", b"only_one_column\n1\n2\n3\n")
    assert any("only one column" in m for m in errors(at)), errors(at)
    assert config(at) == preset("constant") and step_count(at) == 100


def test_an_oversized_csv_is_refused():
    at = open_app()
    upload(at, "huge.csv", b"a,b\n" + b"1,2\n" * (1_500_000))
    assert any("over the 5 MB limit" in m for m in errors(at)), errors(at)
    assert config(at).data.dataset == "coffee"


def test_a_csv_link_without_the_file_asks_for_it():
    at = open_app(dataset="csv", path="mine.csv")
    assert any("upload it again" in m for m in errors(at)), errors(at)
    assert config(at).data.dataset == "coffee"


# ------------------------------------------------------------------ divergence and present mode
def test_divergence_shows_the_banner_and_keeps_the_history():
    at = open_app(dataset="sine", lr="50")
    click(at, "stepn")
    trainer = state(at, "trainer")
    assert trainer.diverged and trainer.history.count > 1
    banner = [m for m in errors(at) if m.startswith("Training diverged at step")]
    assert banner and "lower the learning rate" in banner[0].lower()
    assert at.button(key="playground.play").disabled and at.button(key="playground.stepn").disabled
    at.slider(key="playground.view_step").set_value(2).run()
    assert_clean(at)
    assert at.markdown[1].value.startswith(":gray[Step 2 ·")


def test_a_loss_that_blows_up_gets_a_warning_and_training_goes_on():
    at = open_app(init="xavier_uniform", lr="100", activation="relu")
    assert not at.warning
    click(at, "stepn")
    warning = shown(at.warning[0].value)
    assert warning.startswith("The loss jumped to") and "learning rate (now 100) overshoots" in warning
    assert not errors(at) and not at.button(key="playground.stepn").disabled
    at.number_input(key="playground.w.lr").set_value(0.5).run()
    assert_clean(at)
    assert not at.warning, "a new run with a sensible learning rate has nothing to warn about"


def test_present_mode_hides_the_sidebar_controls():
    at = open_app(present="1", dropout="0.2")
    assert len(at.sidebar.children) == 0
    assert buttons(at) == ["Step 1", "Step 100", "Play"]
    assert not at.slider and [n.key for n in at.number_input] == ["playground.n"]
    click(at, "stepn")
    assert step_count(at) == 100
    assert dict(at.query_params) == {"present": "1", "dropout": "0.2"}


def test_a_new_scheme_starts_from_its_own_default_value():
    at = open_app()
    at.selectbox(key="playground.w.init_scheme").set_value("he_normal").run()
    assert config(at).init.weight == "he_normal"
    at.selectbox(key="playground.w.init_scheme").set_value("normal").run()
    assert config(at).init.weight == "normal:0.1"
    assert at.number_input(key="playground.w.init_param").value == 0.1
    at.selectbox(key="playground.w.init_scheme").set_value("constant").run()
    assert_clean(at)
    assert config(at).init.weight == "constant:0.5" and "init" not in at.query_params


def test_the_upload_widget_and_the_csv_settings():
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{int(i % 7 > 3)}" for i in range(60))
    at = open_app()
    at.file_uploader[0].upload("up.csv", f"a,b,label\n{rows}\n".encode(), "text/csv").run()
    assert_clean(at)
    assert config(at).data.path == "up.csv" and new_run_note(at).startswith("New run: dataset coffee → csv")
    at.selectbox(key="playground.w.dataset").set_value("xor").run()
    assert config(at).data.path == "" and dict(at.query_params) == {"dataset": "xor"}
    at.selectbox(key="playground.w.dataset").set_value("csv").run()  # the upload is still in the session
    assert config(at).data.dataset == "csv" and not errors(at)
    at.text_input(key="playground.w.target").set_value("a").run()
    assert state(at, "trainer").task == "multiclass"
    at.selectbox(key="playground.w.task").set_value("binary").run()
    assert_clean(at)
    assert any("needs exactly 2 classes" in m for m in errors(at)), errors(at)
    assert config(at).data.task == "auto"  # the bad change did not replace the run
