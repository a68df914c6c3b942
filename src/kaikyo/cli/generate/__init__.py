"""Shell completions and man pages, generated from kaikyo's own argparse parser.

``kaikyo generate`` (restic's command) writes them: :mod:`.completions` hands the parser to
shtab for bash, zsh and fish; :mod:`.manpages` writes one troff page per command. Both read
the parser the CLI runs with (``cli.main.build_parser``), so a new flag or command is in
them as soon as it is in ``--help``.
"""
