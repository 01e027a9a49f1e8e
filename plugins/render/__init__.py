"""MkDocs adapter: turns the content model's site plan into MkDocs pages."""
