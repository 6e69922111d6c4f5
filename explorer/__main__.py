"""``python -m explorer``: the same as the ``explorer`` console script."""
import sys

from explorer.cli import main

sys.exit(main())
