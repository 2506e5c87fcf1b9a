"""``python -m bench [--quick]``: see bench/run.py; ``python -m bench --lighthouse``: bench/lighthouse.py."""

import sys

if "--lighthouse" in sys.argv[1:]:
    from bench.lighthouse import main as lighthouse

    lighthouse([arg for arg in sys.argv[1:] if arg != "--lighthouse"])
else:
    from bench.run import main

    main()
