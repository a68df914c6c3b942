"""The composition root: parses arguments, wires stores, engine, planner and server together."""
