"""``python -m mastlens``: the same as the ``mastlens`` command (handy with ``python -X importtime``)."""

from mastlens.cli.app import main

main()
