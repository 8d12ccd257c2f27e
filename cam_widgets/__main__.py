"""``python -m cam_widgets explain|evaluate|show ...``: data-set runs from the shell (``cam_widgets.cli``)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
