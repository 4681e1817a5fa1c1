"""Device protocols of the GPS plugin (pure codecs: bytes in, :mod:`..fixes` values out)."""
