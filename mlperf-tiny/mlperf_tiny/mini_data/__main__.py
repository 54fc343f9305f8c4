import run_contract as rc

from .generate import main

if __name__ == "__main__":
    rc.entry(main)
