"""The one exception genomix raises for bad input (its message names the problem and the fix), and the
signal that stops a run."""

from __future__ import annotations

import errno
import signal

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


class GenomixError(Exception):
    """Bad input or set-up; the message says what was wrong and how to fix it, in the library's terms.
    `option`: the argument at fault (`window`, `ref_check`); where the message advises a value for it,
    it writes `option=value` (`ref_check="warn"`), which the command line writes as its flag."""

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (raised by the command line's handler). A BaseException, so that no
    `except Exception` swallows it. Code it passes through notes in `left` what it left where."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.left: list[str] = []

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a process the signal ended (130, 143)."""
        return 128 + self.signum


def write_error(error: OSError, where: str) -> GenomixError | None:
    """The GenomixError for a failed write to `where` (a file or a folder) that the user can fix: a full
    disk or quota, a read-only or forbidden folder; None for other errors."""
    reason = error.strerror or str(error)
    if error.errno in NO_SPACE:
        return GenomixError(f"no space left writing {where} ({reason}): free space on that disk, or write elsewhere")
    if error.errno in NOT_WRITABLE:
        return GenomixError(f"cannot write {where} ({reason}): choose a folder you can write to")
    return None
