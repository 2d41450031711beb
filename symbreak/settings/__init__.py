"""The settings: one registry entry per field (its range, widget, flag and URL key), the values they parse,
explicit starting weights, the typed `Config` built from them, and the named presets. Imports nothing else of symbreak."""
