import sys

from usage_archive.demo import main

sys.exit(main())
