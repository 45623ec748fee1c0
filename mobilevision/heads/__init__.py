"""Task heads: plain modules from backbone features to raw tensors."""
