from helios.apps.cli import main

raise SystemExit(main())
