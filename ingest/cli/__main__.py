"""``python -m ingest.cli``: the same as the ``evidock`` console script."""

import sys

from ingest.cli.main import main

sys.exit(main())
