"""The extension module (Rust, PyO3): the ``rectify`` command line in-process."""

from os import PathLike
from typing import Any, Callable, List, Optional, Union

__version__: str

class RectifyError(Exception):
    """A command failed: the message the ``rectify`` binary prints after ``rectify: error:``."""

class UsageError(RectifyError):
    """Arguments the command line refuses: clap's message, usage included."""

def run(argv: List[str], progress: Optional[Callable[[str, str, int], Any]] = None) -> None:
    """Runs the command line ``argv`` (no program name) in this process with the GIL released.
    ``progress(event, text, n)`` gets ``begin`` (label, length), ``inc`` (count), ``message``
    (text) and ``finish``; Ctrl-C between two events raises ``KeyboardInterrupt`` after the stage
    stopped as an interrupted binary stops (rerunning resumes)."""

def main(argv: List[str]) -> int:
    """The ``rectify`` command: runs ``argv`` as the binary does and returns its exit status."""

def write_sample(dir: Union[str, PathLike[str]]) -> None:
    """Writes the bundled sample into ``dir``."""

def class_names() -> List[str]:
    """The 1,000 ImageNet class names by index."""
