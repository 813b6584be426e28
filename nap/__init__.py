"""nap: Neuron Activation Profiles for interpreting convolutional speech recognition models.

The chapters of the study call this package; ``nap.Study`` is the entry point::

    import nap
    study = nap.Study("default")          # or "tiny", "paper", a profile .yaml file
    corpus = study.corpus()               # built once, then read from the artifact store
    napset = study.naps()
"""

import os

# OpenMP threads that spin while waiting make torch 10-40x slower as soon as another process
# takes a core (measured: 2 threads, one core busy elsewhere); sleeping waiters cost ~3 % on
# an idle machine. Takes effect only when nap is imported before torch; the user's own
# setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from nap.errors import NapError  # noqa: E402
from nap.params import ParamError  # noqa: E402
from nap.profile import Profile  # noqa: E402
from nap.study import Study  # noqa: E402

__all__ = ["NapError", "ParamError", "Profile", "Study"]
__version__ = "0.1.0"
