import sys

from kostyor_dsl.cli import main

sys.exit(main())
