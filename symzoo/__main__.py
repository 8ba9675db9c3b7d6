from symzoo.cli import main

raise SystemExit(main())
