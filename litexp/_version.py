"""The version of litexp, written once: ``litexp.__version__``, ``litexp --version`` and the
package metadata (``[tool.setuptools.dynamic]`` in pyproject.toml) read it from here."""

__version__ = "0.2.0"
