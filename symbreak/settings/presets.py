"""The named starting points a teacher picks from: each a short description and its changes to the defaults."""

from __future__ import annotations

from symbreak.settings.config import Config
from symbreak.settings.explicit import explicit_json
from symbreak.settings.values import ConfigError, quote

TIED_221 = explicit_json([([[0.5, -0.3], [0.5, -0.3]], [0.0, 0.0]), ([[0.8, 0.8]], [0.0])])
UNTIED_OUTGOING_221 = explicit_json([([[0.5, -0.3], [0.5, -0.3]], [0.0, 0.0]), ([[0.8, -0.4]], [0.0])])

PRESETS: dict[str, tuple[str, dict[str, str]]] = {
    "constant": ("every weight 0.5, no dropout: the eight neurons move as one", {}),
    "zeros-sigmoid": ("every weight and bias 0 with sigmoid: the neurons move, but in lockstep",
                      {"init": "zeros", "bias_init": "zeros", "activation": "sigmoid"}),
    "constant-dropout": ("every weight 0.5 with dropout 0.2: random masks split the neurons",
                         {"dropout": "0.2"}),
    "random": ("Xavier random start: every neuron starts somewhere else and learns its own feature",
               {"init": "xavier_uniform", "bias_init": "zeros"}),
    "perturbed": ("every weight 0.5 plus noise of size 1e-4: a tiny tie-break grows",
                  {"perturb": "0.0001"}),
    "tied-221": ("the 2-2-1 net with w1=w3, w2=w4, w5=w6: the two neurons stay identical",
                 {"hidden": "2", "init_weights": TIED_221}),
    "untied-outgoing": ("the 2-2-1 net with w5≠w6: different outgoing weights split the neurons",
                        {"hidden": "2", "init_weights": UNTIED_OUTGOING_221}),
    "softmax-zero": ("no hidden layer, 3 classes, zero start: the class rows still split",
                     {"dataset": "blobs3", "hidden": "0", "init": "zeros", "bias_init": "zeros"}),
}
DEFAULT_PRESET = "constant"


def preset(name: str) -> Config:
    """The named preset as a full config."""
    if name not in PRESETS:
        raise ConfigError(f"preset: unknown preset {quote(name)}; choose one of {', '.join(PRESETS)}")
    return Config.from_flat(PRESETS[name][1])
