"""Main's numbers: which commit is the base, and the files as they were there."""
