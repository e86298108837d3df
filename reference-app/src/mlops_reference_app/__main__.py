"""``python -m mlops_reference_app [WORKDIR] [--fast]``: run the roadmap end to end."""

from mlops_reference_app.roadmap import main

raise SystemExit(main())
