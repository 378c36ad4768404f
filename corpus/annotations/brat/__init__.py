"""brat standoff <-> canonical annotations: the mapping, the conversion, and whole collections on disk."""
