"""``python -m opentaskpy``: the same as the ``task-run`` command."""

from opentaskpy.cli.task_run import main

if __name__ == "__main__":
    main()
