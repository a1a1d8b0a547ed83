import sys

from visual_buffet_siglip.bench.cli import main

sys.exit(main())
