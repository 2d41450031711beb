"""symbreak: watch the hidden neurons of a small network stay identical or split apart.

Importing symbreak sets torch to one thread (unless OMP_NUM_THREADS is set): the networks are small, and on a
shared machine a second thread costs more in waiting than it gains. Call torch.set_num_threads after import
(or pass --threads to the command line) for large data or wide layers.
"""

import os

import torch

from .config import Config
from .presets import PRESETS, preset
from .trainer import Trainer, load_dataset, run_side_by_side
from .values import ConfigError

DEFAULT_THREADS = 1
if "OMP_NUM_THREADS" not in os.environ:
    torch.set_num_threads(DEFAULT_THREADS)

__all__ = ["PRESETS", "Config", "ConfigError", "Trainer", "load_dataset", "preset", "run_side_by_side"]
