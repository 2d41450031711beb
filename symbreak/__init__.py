"""symbreak: watch the hidden neurons of a small network stay identical or split apart."""

from .config import PRESETS, Config, ConfigError, preset
from .trainer import Trainer, load_dataset, run_side_by_side

__all__ = ["PRESETS", "Config", "ConfigError", "Trainer", "load_dataset", "preset", "run_side_by_side"]
