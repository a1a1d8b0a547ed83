"""A plugin module that cannot be imported, as when a plugin's dependency is missing."""

raise ImportError("vb_broken needs the 'libfoo' package: pip install libfoo")
