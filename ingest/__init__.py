"""cityqa's write side: load, chunk, tag and index documents."""
