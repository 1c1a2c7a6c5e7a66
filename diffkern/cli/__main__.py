"""``python -m diffkern.cli``: the ``diffkern`` command."""

import sys

from diffkern.cli import main

sys.exit(main())
