"""nap: Neuron Activation Profiles for interpreting convolutional speech recognition models.

The chapters of the study call this package; ``nap.Study`` is the entry point::

    import nap
    study = nap.Study("default")          # or "tiny", "paper", a profile .yaml file
    corpus = study.corpus()               # built once, then read from the artifact store
    napset = study.naps()
"""

from nap.params import ParamError
from nap.profile import Profile
from nap.study import Study

__all__ = ["ParamError", "Profile", "Study"]
__version__ = "0.1.0"
