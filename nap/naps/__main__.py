"""``torchrun --nproc_per_node N -m nap.naps --profile P``: the naps stage over N processes."""

import sys

from nap.naps.distributed import main

sys.exit(main())
