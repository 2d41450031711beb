"""The engine, which is the lesson's arithmetic: the model (layout, starts, one forward and one backward pass), the
optimizers, the trainer that steps runs side by side, their history, the symmetry metrics, divergence messages, and the
probes the views read. Depends on settings and data; knows nothing of figures, lessons or pages."""
