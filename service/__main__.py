from service.tools.cli import main

raise SystemExit(main())
