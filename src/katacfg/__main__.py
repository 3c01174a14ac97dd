from katacfg.cli.main import entry

entry()
