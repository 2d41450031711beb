"""One registry of settings: every configuration field and sidebar control, described once.

An entry holds what each user of a setting needs: its key (the flat config name, the URL key and, with
dashes, the command-line flag), the sidebar's label and help, the command line's one-line help, its kind,
bounds, step, format and choices, and whether a teacher may hide its control with `?hide=dropout,optimizer`.
Config validation (config.py), the command line's flags (cli.py) and the sidebar's widgets (pages/sidebar.py)
are all built from it, so adding a setting is one entry here. Every bound on a value from outside (a link,
a file, an upload, the command line) is named here once; this module imports nothing of the package, so
config.py and data.py can both read their bounds from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# ------------------------------------------------------------------ bounds
# Data: built-in sets and CSV files.
MAX_ROWS = 100_000
MAX_COLUMNS = 64
MAX_CLASSES = 64  # most classes a multiclass target may have (one output unit each)
MIN_SAMPLES = 10
MAX_NOISE = 1.0
MAX_TEST_FRACTION = 0.5
MAX_UPLOAD_MB = 5
# The network and its start.
MAX_HIDDEN_LAYERS = 8
MAX_WIDTH = 64
MAX_INIT_PARAM = 100.0  # |parameter| of the constant, normal and uniform schemes
MAX_PERTURB = 10.0
# Largest |value| of an explicit starting weight: far past any useful start, far below a float32 overflow.
MAX_EXPLICIT_WEIGHT = 1e4
# Training.
MAX_DROPOUT = 0.9
MIN_LR, MAX_LR = 1e-6, 100.0
MAX_WEIGHT_DECAY = 10.0
MAX_STEPS = 1_000_000
MAX_SEED = 2**31 - 1
MAX_TOL = 1.0
MAX_VALUE_CHARS = 4096  # longest setting value accepted from outside, except init_weights
# Longest init_weights text: the largest valid network (MAX_COLUMNS inputs, MAX_HIDDEN_LAYERS layers of
# MAX_WIDTH, MAX_CLASSES outputs) written compactly. A value takes at most 25 characters (the longest float
# repr, '-2.2250738585072014e-308', and a comma); one more allows a space after each comma, and a sixteenth
# more the brackets and keys. With 8 layers of 64: 37,440 values, 1,034,280 characters.
_LARGEST_NET_VALUES = ((MAX_COLUMNS + 1) * MAX_WIDTH + (MAX_HIDDEN_LAYERS - 1) * (MAX_WIDTH + 1) * MAX_WIDTH
                       + (MAX_WIDTH + 1) * MAX_CLASSES)
MAX_EXPLICIT_CHARS = _LARGEST_NET_VALUES * 26 * 17 // 16
# Longest mask text: the same network with each value written as '1.0, ' (six characters with room to spare).
MAX_MASK_CHARS = _LARGEST_NET_VALUES * 6 * 17 // 16

# ------------------------------------------------------------------ choices
BUILTIN_DATASETS = (
    "coffee", "demand", "xor", "circles", "moons", "spiral", "gaussians", "blobs3", "sine",
)
CSV_DATASET = "csv"
TASK_CHOICES = ("auto", "binary", "multiclass", "regression")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "linear")
INIT_SCHEMES = (
    "zeros", "constant", "normal", "uniform", "xavier_uniform", "xavier_normal",
    "he_uniform", "he_normal", "torch_default",
)
SCHEMES_WITH_PARAM = {"constant": 0.5, "normal": 0.1, "uniform": 0.1}  # and each one's default parameter
OPTIMIZERS = ("sgd", "momentum", "adam")
DTYPES = ("float32", "float64")
ARITHMETIC = ("exact", "blas")

# What each kind of setting holds. A config field has one of FIELD_KINDS; a sidebar control that is part of a
# field (the number of layers, a scheme's parameter) has a plain kind and names the field in `part_of`.
NUMBER, INT, BOOL, CHOICE, TEXT = "number", "int", "bool", "choice", "text"
FILE, WIDTHS, SCHEME, WEIGHTS, MASK, PRESET = "file", "widths", "scheme", "weights", "mask", "preset"
FIELD_KINDS = (NUMBER, INT, BOOL, CHOICE, TEXT, FILE, WIDTHS, SCHEME, WEIGHTS, MASK)
# The sidebar widget that shows a setting (None: the setting has no control of its own).
SLIDER, NUMBER_INPUT, SELECT, RADIO, CHECKBOX, TEXT_INPUT, TEXT_AREA, UPLOAD, TABLE = (
    "slider", "number_input", "select", "radio", "checkbox", "text_input", "text_area", "upload", "table")

HIDE_KEY = "hide"  # the URL key of a teacher's comma-separated list of controls to hide


def bound_text(value: float) -> str:
    """A bound as messages and help show it: an integer in full, a float in its shortest form (1e-06, 0.9)."""
    return str(value) if isinstance(value, int) else f"{value:g}"


@dataclass(frozen=True)
class Setting:
    """One setting: what validation, the command line and the sidebar need to know of it."""

    key: str  # flat config name and URL key; the command line's flag is --key-with-dashes unless `flag` says
    label: str  # the sidebar's label
    help: str  # the sidebar's help: what the setting does, for a student
    kind: str
    brief: str = ""  # the command line's help, to which the range is added
    low: float | None = None  # bounds, both included: of the value, a scheme's parameter, a width, a weight
    high: float | None = None
    step: float | None = None
    format: str | None = None  # the number input's printf format
    choices: tuple[str, ...] = ()
    shown: tuple[tuple[str, str], ...] = ()  # (choice, how the sidebar shows it) where the two differ
    widget: str | None = None
    part_of: str = ""  # the config field this sidebar-only control sets a part of
    hideable: bool = True  # whether a teacher's ?hide= may remove its control
    items: int | None = None  # most widths a widths setting holds
    max_chars: int = MAX_VALUE_CHARS  # longest value accepted from outside
    flag: str = ""
    metavar: str | None = None
    rule: str = ""  # the refusal, with {low} {high} (ranges) or {value} {choices} (choices) filled in
    noun: str = ""  # its name in a sentence ("New run: learning rate 1 → 0.5"); the label in lower case if empty

    @property
    def field(self) -> str | None:
        """The config field this setting sets: its own key, the field it is part of, or None (a preset)."""
        if self.kind == PRESET:
            return None
        return self.part_of or self.key

    @property
    def option(self) -> str | None:
        """The command-line flag (None for a sidebar-only control, which sets part of another field's flag)."""
        if self.part_of:
            return None
        return self.flag or "--" + self.key.replace("_", "-")

    @property
    def name(self) -> str:
        """The setting's name in a sentence."""
        return self.noun or self.label.lower()

    def span(self) -> str | None:
        """The accepted range in words, as the command line's help states it (None where there is none)."""
        low, high = (None if b is None else bound_text(b) for b in (self.low, self.high))
        if self.kind in (NUMBER, INT):
            return f"{low}–{high}"
        if self.kind == SCHEME:
            return f"|PARAM| ≤ {high}"
        if self.kind == WEIGHTS:
            return f"each within ±{high}"
        if self.kind == WIDTHS:
            return f"at most {self.items} layers of {low}–{high}"
        return None

    def cli_help(self) -> str:
        """The flag's help: the brief and the range."""
        span = self.span()
        return f"{self.brief} ({span})" if span else self.brief

    def refusal(self, value: str) -> str:
        """Why a value (already quoted) is refused, after 'key: ' and before ' (got …)' for a range."""
        if self.kind == CHOICE:
            return (self.rule or "{value} is not one of {choices}").format(value=value, choices=", ".join(self.choices))
        return (self.rule or "must be between {low} and {high}").format(low=bound_text(self.low),
                                                                         high=bound_text(self.high))

    def show(self, choice: str) -> str:
        """A choice as the sidebar shows it."""
        return dict(self.shown).get(choice, choice)


_SCHEME_HELP = ("How the starting weights are chosen. zeros and constant give every neuron the same start "
                "(symmetric); the others draw each weight at random from the seed.")

SETTINGS: dict[str, Setting] = {s.key: s for s in (
    Setting("preset", "Preset", "A ready-made experiment. Each one changes a few settings from the default; the "
            "caption says what to watch for.", PRESET, brief="start from a named preset", widget=SELECT),
    # data
    Setting("dataset", "Dataset", "What the network learns. Built-in sets are generated from the seed; pick 'csv' "
            "after uploading your own file.", CHOICE, brief="built-in dataset name",
            choices=(*BUILTIN_DATASETS, CSV_DATASET), widget=SELECT,
            rule="unknown dataset {value}; choose one of {choices}"),
    Setting("path", "Upload a CSV", "A CSV with a header row, numeric feature columns and a target column (the "
            f"last, unless you name another). At most {MAX_UPLOAD_MB} MB.", FILE,
            brief="train on a CSV file (numeric features + target)", widget=UPLOAD, flag="--data",
            metavar="FILE.csv", noun="file"),
    Setting("target", "Target column", "The column to predict (empty: the last column).", TEXT,
            brief="the CSV's target column (default: the last)", widget=TEXT_INPUT, noun="target"),
    Setting("task", "Task", "auto guesses from the target: two values is binary, a few whole numbers or labels "
            "multiclass, else regression.", CHOICE, brief="override the inferred task", choices=TASK_CHOICES,
            widget=SELECT),
    Setting("standardize", "Standardize features", "Rescale each feature to mean 0 and spread 1 (built-in sets "
            "always are).", BOOL, brief="standardize CSV features", widget=CHECKBOX, noun="standardize"),
    Setting("n_samples", "Samples", "How many points to generate (built-in sets).", INT,
            brief="size of a built-in dataset", low=MIN_SAMPLES, high=MAX_ROWS, step=50, widget=NUMBER_INPUT),
    Setting("noise", "Noise", "How noisy the generated data is, from 0 (clean) to 1.", NUMBER,
            brief="noise of a built-in dataset", low=0.0, high=MAX_NOISE, step=0.05, widget=SLIDER),
    Setting("test_fraction", "Test share", "Share of the data held back to measure the test loss.", NUMBER,
            brief="share of the data held out for testing", low=0.0, high=MAX_TEST_FRACTION, step=0.05,
            widget=SLIDER),
    # network
    Setting("hidden", "Hidden widths", "The width of each hidden layer, e.g. 8 or 8,8 (0 for none).", WIDTHS,
            brief="hidden widths: 8, or 8,8; 0 for no hidden layer", low=1, high=MAX_WIDTH,
            items=MAX_HIDDEN_LAYERS, noun="hidden layers"),
    Setting("layers", "Hidden layers", "How many hidden layers (0 = no hidden layer: the inputs feed the outputs "
            "directly).", INT, low=0, high=MAX_HIDDEN_LAYERS, step=1, widget=NUMBER_INPUT, part_of="hidden"),
    Setting("width", "Neurons per layer", "Neurons in each hidden layer.", INT, low=1, high=MAX_WIDTH, step=1,
            widget=NUMBER_INPUT, part_of="hidden"),
    Setting("activation", "Activation", "The function each hidden neuron applies to its weighted sum.", CHOICE,
            brief="the hidden neurons' activation function", choices=ACTIVATIONS, widget=SELECT),
    # the start
    Setting("init", "Weight init", _SCHEME_HELP, SCHEME, brief="weight init, e.g. zeros, constant:0.5, normal:0.1",
            low=-MAX_INIT_PARAM, high=MAX_INIT_PARAM, choices=INIT_SCHEMES, metavar="SCHEME[:PARAM]"),
    Setting("init_scheme", "Weight init", _SCHEME_HELP, CHOICE, choices=INIT_SCHEMES, widget=SELECT,
            part_of="init"),
    Setting("init_param", "value", "The value (constant) or spread (normal, uniform) of the starting weights.",
            NUMBER, low=-MAX_INIT_PARAM, high=MAX_INIT_PARAM, step=0.1, format="%g", widget=NUMBER_INPUT,
            part_of="init"),
    Setting("bias_init", "Bias init", "How the starting biases are chosen (same schemes as the weights).", SCHEME,
            brief="bias init, same schemes", low=-MAX_INIT_PARAM, high=MAX_INIT_PARAM, choices=INIT_SCHEMES,
            metavar="SCHEME[:PARAM]"),
    Setting("bias_scheme", "Bias init", "How the starting biases are chosen (same schemes as the weights).", CHOICE,
            choices=INIT_SCHEMES, widget=SELECT, part_of="bias_init"),
    Setting("bias_param", "value", "The value or spread of the starting biases.", NUMBER, low=-MAX_INIT_PARAM,
            high=MAX_INIT_PARAM, step=0.1, format="%g", widget=NUMBER_INPUT, part_of="bias_init"),
    Setting("perturb", "Perturbation ε", "Add random noise of this size to every starting weight. Even 1e-6 makes "
            "the neurons different, and the difference can grow.", NUMBER,
            brief="add N(0, EPS²) noise to every weight", low=0.0, high=MAX_PERTURB, step=1e-4, format="%g",
            widget=NUMBER_INPUT, metavar="EPS"),
    Setting("init_weights", "Type in the starting weights", "A table per layer of the starting weights; what you "
            "type starts a new run from it.", WEIGHTS, brief="explicit initial parameters",
            low=-MAX_EXPLICIT_WEIGHT, high=MAX_EXPLICIT_WEIGHT, widget=TABLE, max_chars=MAX_EXPLICIT_CHARS,
            metavar="FILE.json", noun="initial weights"),
    Setting("mask", "Prune weights (mask)", "Which weights the network keeps, in the format of the starting "
            "weights: 1 keeps a weight, 0 prunes it. A pruned weight is 0 from the start and never trained; biases "
            "are never pruned. Empty: no weight is pruned.", MASK,
            brief="prune weights: the --init-weights format with 1 to keep a weight and 0 to prune it (held at 0.0 "
                  "from the start, never updated); biases are never pruned, whatever the file says",
            widget=TEXT_AREA, max_chars=MAX_MASK_CHARS, metavar="FILE.json", noun="pruning mask"),
    # training
    Setting("dropout", "Dropout rate", "During training, switch off each hidden neuron at random with this "
            "probability on every step. Different neurons are dropped, so they get different updates.", NUMBER,
            brief="dropout rate after each hidden layer", low=0.0, high=MAX_DROPOUT, step=0.05, widget=SLIDER,
            noun="dropout"),
    Setting("optimizer", "Optimizer", "sgd: step against the gradient; momentum: keep some of the last step; adam: "
            "per-weight step sizes. None of them can tell identical neurons apart.", CHOICE,
            brief="how each update follows the gradient", choices=OPTIMIZERS,
            widget=SELECT),
    Setting("lr", "Learning rate", "How big each step is. Too big and training blows up (the page says so and "
            "stops).", NUMBER, brief="learning rate", low=MIN_LR, high=MAX_LR, step=0.05, format="%g",
            widget=NUMBER_INPUT, rule="the learning rate must be above 0 (at least {low}) and at most {high}"),
    Setting("batch_size", "Batch size", "Examples per step; 0 uses all of them (full batch). Mini-batches are "
            "shuffled from the seed, but every neuron sees the same batch.", INT,
            brief="examples per step, 0 = full batch", low=0, high=MAX_ROWS, step=1, widget=NUMBER_INPUT),
    Setting("weight_decay", "Weight decay", "Pull every weight a little towards 0 on each step (the same pull for "
            "identical neurons).", NUMBER, brief="L2 weight decay", low=0.0, high=MAX_WEIGHT_DECAY, step=1e-3,
            format="%g", widget=NUMBER_INPUT),
    Setting("steps", "Steps", "How many optimizer updates a run makes (the Playground steps when asked instead).",
            INT, brief="number of optimizer updates", low=0, high=MAX_STEPS, hideable=False),
    Setting("seed", "Seed", "One number fixes the data, the random starting weights, the dropout masks and the "
            "shuffling.", INT, brief="one seed for data, init, dropout and shuffling", low=0, high=MAX_SEED,
            step=1, widget=NUMBER_INPUT),
    # arithmetic
    Setting("dtype", "Number type", "float32 (7 digits) or float64 (16 digits). Identical neurons stay identical "
            "in both.", CHOICE, brief="the number type of training", choices=DTYPES, widget=SELECT, noun="dtype"),
    Setting("arithmetic", "Arithmetic", "exact: every dot product is summed in the same order for every neuron, so "
            "identical neurons get identical numbers. blas: the fast matrix multiply, which may sum identical "
            "columns in a different order; the results then differ in the last bit (an ulp) and that tiny "
            "tie-break can grow.", CHOICE, brief="exact (default) or plain BLAS matmuls", choices=ARITHMETIC,
            shown=(("blas", "plain BLAS"),), widget=RADIO),
    Setting("tol", "Tolerance for 'equal'", "Two neurons count as equal when no parameter differs by more than "
            "this. 0 = equal to the last bit.", NUMBER, brief="tolerance for counting neurons as equal, 0 = bitwise",
            low=0.0, high=MAX_TOL, step=1e-6, format="%g", widget=NUMBER_INPUT, noun="tolerance"),
)}


def fields() -> tuple[Setting, ...]:
    """The settings that are config fields, in the registry's order."""
    return tuple(s for s in SETTINGS.values() if s.kind in FIELD_KINDS and not s.part_of)


def controls() -> tuple[Setting, ...]:
    """The settings that the sidebar shows as a widget of their own."""
    return tuple(s for s in SETTINGS.values() if s.widget)


def hideable() -> tuple[str, ...]:
    """The names a teacher's hide list may hold."""
    return tuple(key for key, s in SETTINGS.items() if s.hideable)


def hidden_by(names: Iterable[str]) -> frozenset[str]:
    """The controls that a list of hideable names removes: each one named, and every part of a named field."""
    named = set(names)
    return frozenset(key for key, s in SETTINGS.items() if s.widget and (key in named or s.part_of in named))
