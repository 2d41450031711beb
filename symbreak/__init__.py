"""symbreak: watch the hidden neurons of a small network stay identical or split apart.

Importing symbreak sets torch to one thread (unless OMP_NUM_THREADS is set): the networks are small, and on a
shared machine a second thread costs more in waiting than it gains. Call torch.set_num_threads after import
(or pass --threads to the command line) for large data or wide layers.

One thread on every thread: OpenMP starts each new thread with its default team (one per core), whatever
torch.set_num_threads said on another, and a Streamlit server runs every script run on a new thread. So the
default itself is set, in the environment OpenMP reads when torch loads it, before torch is imported. (Left
at two, every "Step" press on a 2-core server woke a second OpenMP thread that spun for about 10 ms.)
"""

import os

_THREADS_GIVEN = "OMP_NUM_THREADS" in os.environ
DEFAULT_THREADS = 1
if not _THREADS_GIVEN:
    os.environ["OMP_NUM_THREADS"] = str(DEFAULT_THREADS)

import torch  # noqa: E402  (after OMP_NUM_THREADS)

from symbreak.settings.config import Config
from symbreak.settings.presets import PRESETS, preset
from symbreak.engine.trainer import Trainer, load_dataset, run_side_by_side
from symbreak.settings.values import ConfigError

if not _THREADS_GIVEN:
    torch.set_num_threads(DEFAULT_THREADS)  # this thread, in case torch was loaded before symbreak

__all__ = ["PRESETS", "Config", "ConfigError", "Trainer", "load_dataset", "preset", "run_side_by_side"]
