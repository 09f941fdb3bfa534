"""Lapor: the settings (a leaf all layers read) and the `lapor` command (the composition root)."""
