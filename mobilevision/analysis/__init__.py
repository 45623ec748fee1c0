"""Counting models: parameters and multiply-adds, activation memory, memory-efficient plans."""
