"""`python -m dlrun` is the `dlrun` command."""

from dlrun.cli.main import main

if __name__ == "__main__":
    main()
