"""One module per `autocaption` command: `add_parser(commands)` and `run(args, beam_args)`.

Each imports Beam and the pipeline only inside `run`, so building the parser (and `--help`)
loads neither.
"""
