from akcuda.toolchain.cli import main

raise SystemExit(main())
