"""The one error type: invalid input, with a message that names the problem and the fix."""


class TrainfreeError(ValueError):
    """Raised for invalid input; the message says what is wrong and how to fix it.

    The CLI turns it into one line on stderr and exit code 2.
    """
