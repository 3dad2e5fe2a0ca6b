"""`python -m core.app.cli` is the `perfics` command."""

import sys

from core.app.cli import main

sys.exit(main())
