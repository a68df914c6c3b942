"""One module per command: register(subparsers) and run(args, ctx) -> int."""
