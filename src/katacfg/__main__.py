from katacfg.cli.app import entry

entry()
