"""One module per format; each has a ``write_<format>(table, out, **kw) -> rows`` writer."""
