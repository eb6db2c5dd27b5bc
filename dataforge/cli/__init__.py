"""The ``dataforge`` command line (typer). One module per command group."""
