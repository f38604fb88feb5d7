from akcuda.command import main

raise SystemExit(main())
