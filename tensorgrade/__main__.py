import sys

from tensorgrade.cli.main import main

sys.exit(main())
