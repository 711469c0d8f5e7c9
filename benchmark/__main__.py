from hippo_bench.cli import main

raise SystemExit(main())
