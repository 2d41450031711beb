"""A class's view of its students' runs: the summary a student's run publishes (what decides its symmetry, how far
its neurons are apart, what broke the tie), the teacher's board built from those summaries, its export, and the
exact replay of a run from its configuration and step count. Depends on the engine and settings; the store that
carries the summaries between processes is symbreak.serving.classes."""
