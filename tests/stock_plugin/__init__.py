"""Plugin A of the capability tests: declares a hook and offers ``stock.reservation``."""
