"""The data a network trains on: the `Dataset`, the built-in 2-D and tabular sets, and CSV files checked on the way in.
Depends on the settings only (for its bounds)."""
