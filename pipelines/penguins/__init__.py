"""The example pipeline: Palmer penguins species classification."""
