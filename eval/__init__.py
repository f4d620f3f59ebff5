"""Evaluation of retrieval and answers against reference question sets."""
