"""One module per resource; each exports ``ROUTES``: (path, methods, handler) triples."""
