from katacfg.cli import entry

entry()
