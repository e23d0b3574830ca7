import sys

from tfpipe.pipelines.cli import main

sys.exit(main())
