"""`python -I -m hostmind ...`: how the trusted units start the full `hostmind` command."""

import sys

from hostmind.wiring import main

sys.exit(main())
