"""``python -m lstm``: see `lstm.cli`."""

import sys

from lstm.cli import main

if __name__ == "__main__":
    sys.exit(main())
