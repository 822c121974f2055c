"""earlystop."""
