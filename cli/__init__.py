"""The `enteronce` command line: the top layer; nothing imports it."""
