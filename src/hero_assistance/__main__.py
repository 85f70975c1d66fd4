"""``python -m hero_assistance`` is the ``hero-assistance`` command."""

from hero_assistance.supervisor._cli import main

raise SystemExit(main())
