"""Entry points: the command line, stdin, the flake8 plugin and the language server, each driving a
`Workspace`."""
