"""The one exception genomix raises for bad input: its message names the problem and the fix."""


class GenomixError(Exception):
    """Bad input or set-up; the message says what was wrong and how to fix it."""
