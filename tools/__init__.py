"""Book tooling: convert, run and report chapters; build the book. Not imported by chapters."""
