"""The one exception genomix raises for bad input: its message names the problem and the fix."""


class GenomixError(Exception):
    """Bad input or set-up; the message says what was wrong and how to fix it, in the library's terms.
    `option`: the argument at fault (`window`, `ref_check`); where the message advises a value for it,
    it writes `option=value` (`ref_check="warn"`), which the command line writes as its flag."""

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option
