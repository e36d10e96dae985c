import sys

from xtwin.cli import main

sys.exit(main())
