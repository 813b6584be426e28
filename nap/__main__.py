"""``python -m nap`` is the ``nap`` command."""

import sys

from nap.cli import main

sys.exit(main())
