"""Corpus -> index directory: reading, cleaning, chunking, embedding and storing articles."""
