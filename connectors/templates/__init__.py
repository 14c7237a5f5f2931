"""Built-in connector templates, one folder each: the template class, its helpers and its default recipes."""
