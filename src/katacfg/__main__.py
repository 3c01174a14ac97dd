import sys

from katacfg.cli import main

sys.exit(main())
