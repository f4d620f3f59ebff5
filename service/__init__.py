"""Index directory -> HTTP answers: retrieval, cited answers and the FastAPI app."""
