from khipu.cli import main

raise SystemExit(main())
