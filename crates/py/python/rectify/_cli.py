"""The ``rectify`` command installed by the wheel: the binary's ``main`` in this process."""

import signal
import sys


def main() -> None:
    # Ctrl-C ends the command at once, as it ends the binary (a stage resumes when rerun).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    import torch  # noqa: F401  (loads the libtorch the extension links)

    from ._rectify import main as _main

    sys.exit(_main(sys.argv[1:]))


if __name__ == "__main__":
    main()
