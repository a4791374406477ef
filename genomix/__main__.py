from genomix.cli import run

run()
