"""The study's website (the jupyter-book book of the executed chapters), in three parts:

* :mod:`nap.website.extension`: the Sphinx extension ``_config.yml`` names (``nap.website``:
  its :func:`setup` is this package's), which serves the site's JavaScript itself;
* :mod:`nap.website.npm`: fetches that JavaScript from the npm registry once, into a checked cache;
* :mod:`nap.website.weight`: what a built page weighs with the files it loads.

``python -m nap.website install [--force] | weight PAGE.html ...`` (:mod:`nap.website.__main__`).
The front page's numbers are chapter content, in :mod:`nap.glance`.
"""

from nap.website.extension import setup

__all__ = ["setup"]
