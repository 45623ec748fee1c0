"""Image classification: model, train / val / predict."""
