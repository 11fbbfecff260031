import sys

from engine.cli import main

if __name__ == "__main__":  # not in a process that multiprocessing spawns (vLLM's engine core imports __main__)
    sys.exit(main())
