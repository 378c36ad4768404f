"""newscorpus: raw news articles -> versioned corpus -> Label Studio -> validated annotations
-> Hugging Face dataset."""

__version__ = "0.1.0"
