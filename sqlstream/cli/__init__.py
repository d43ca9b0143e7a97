"""The command line (click, and only here). The console script is ``sqlstream.cli.main:main``."""
