import sys

from kolgraph.cli import main

if __name__ == "__main__":  # `python -m kolgraph`; importing it (doctest collection) runs nothing
    sys.exit(main())
