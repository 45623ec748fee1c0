"""The one exception type the command line turns into a one-line message and a non-zero exit."""


class MobileVisionError(Exception):
    """A user-facing error: the message names the file or value at fault and the fix."""
