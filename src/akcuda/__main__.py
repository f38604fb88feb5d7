from akcuda.cli import main

raise SystemExit(main())
