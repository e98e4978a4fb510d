from gailrun.cli.app import main

main()
