"""`python -m eai_avatar` is the `eai-avatar` command."""

import sys

from eai_avatar.cli import main

sys.exit(main())
