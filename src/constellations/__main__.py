"""``python -m constellations``: the same command tree as the ``constellations`` console script."""
from constellations.cli.main import main

if __name__ == "__main__":
    main()
