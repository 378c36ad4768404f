"""Package data: the default taxonomy, brat mapping, guideline template and generated files (see corpus.core.resources)."""
