"""``python -m coursekit.figures``: the same as ``coursekit figures``."""

import sys

from coursekit.figures import main

sys.exit(main())
